package printer_test

import (
	"testing"

	"tolem/devices/printer"
	"tolem/kiosk"
)

// benchDoc is a receipt as kiosk/receipt lays it out, 48 columns: in
// Russian only the lines with ₸ or «» need raster; in Kazakh most do.
func benchDoc(kazakh bool) kiosk.ReceiptDoc {
	lines := []string{
		"АО «Банк»", "Терминал у входа", "Алматы, пр. Абая 1", "------------------------------------------------",
		"Терминал:                            KZ-ALA-0001", "Дата:                         04.12.2026 14:30:00",
		"Чек №:                                      1234", "Услуга:                     Пополнение кошелька",
		"Счёт:                               +7701***4567", "------------------------------------------------", "Купюры:",
		"  500 ₸ x 1:                               500 ₸", "  2 000 ₸ x 1:                           2 000 ₸",
		"  10 000 ₸ x 1:                         10 000 ₸", "------------------------------------------------",
		"Сумма:                                  12 500 ₸", "Комиссия:                                   0 ₸",
		"Итого:          12 500 ₸", "Статус:  принято, зачисление в течение 30 мин",
		"------------------------------------------------", "Код проверки:                         XEMNEPOTFW", "Проверить чек",
	}
	if kazakh {
		lines[7] = "Қызмет:                         Әмиянды толтыру"
		lines[18] = "Күйі: қабылданды, 30 минут ішінде есептеледі"
		lines[20] = "Тексеру коды:                         XEMNEPOTFW"
		lines[21] = "Чекті тексеру"
	}
	d := kiosk.ReceiptDoc{ReceiptNo: 1234, QR: "https://bank.example/check?t=KZ-ALA-0001&r=1234&c=XEMNEPOTFW"}
	for i, l := range lines {
		d.Lines = append(d.Lines, kiosk.ReceiptLine{Text: l, Double: i == 17, Bold: i == 17})
	}
	return d
}

func benchEncode(b *testing.B, kazakh bool, qr string) {
	d := benchDoc(kazakh)
	o := printer.Options{Columns: 48, QR: qr}
	var n int
	for b.Loop() {
		data, err := printer.Encode(d, o)
		if err != nil {
			b.Fatal(err)
		}
		n = len(data)
	}
	b.ReportMetric(float64(n), "bytes/receipt")
	// 10 bits a byte on an 8N1 line.
	b.ReportMetric(float64(n)*10/115200, "s@115200")
	b.ReportMetric(float64(n)*10/9600, "s@9600")
}

func BenchmarkEncodeRussian(b *testing.B)        { benchEncode(b, false, printer.QRNative) }
func BenchmarkEncodeKazakh(b *testing.B)         { benchEncode(b, true, printer.QRNative) }
func BenchmarkEncodeKazakhRasterQR(b *testing.B) { benchEncode(b, true, printer.QRRaster) }
