package charrom

// flowScreens is a representative set of the customer flow's screens in the
// three languages, as the flow draws them: four lines of at most 20
// characters, amounts formatted by kiosk.Money.
var flowScreens = []struct {
	name  string
	lines [Rows]string
}{
	{"idle ru", [Rows]string{"Пополнить кошелёк", "без комиссии", "Нажмите OK", "Язык: LANG"}},
	{"idle kk", [Rows]string{"Әмиянды толтыру", "комиссиясыз", "OK басыңыз", "Тіл: LANG"}},
	{"idle en", [Rows]string{"Top up your wallet", "no fee", "Press OK", "Language: LANG"}},

	{"enter_phone ru", [Rows]string{"Введите номер", "+7 (701) 123-45-__", "BACK - стереть", "OK - далее"}},
	{"enter_phone kk", [Rows]string{"Нөмірді енгізіңіз", "+7 (701) 123-45-__", "BACK - өшіру", "OK - әрі қарай"}},
	{"enter_phone en", [Rows]string{"Enter phone number", "+7 (701) 123-45-__", "BACK - delete", "OK - next"}},
	{"bad prefix ru", [Rows]string{"Неверный номер", "+7 (123) 456-78-90", "Такого оператора", "нет в Казахстане"}},
	{"bad prefix kk", [Rows]string{"Нөмір қате", "+7 (123) 456-78-90", "Мұндай оператор", "Қазақстанда жоқ"}},
	{"bad prefix en", [Rows]string{"Invalid number", "+7 (123) 456-78-90", "Not a Kazakh mobile", "operator"}},

	{"lookup ru", [Rows]string{"Проверяем номер…", "", "Подождите", ""}},
	{"lookup kk", [Rows]string{"Нөмір тексерілуде…", "", "Күте тұрыңыз", ""}},
	{"lookup en", [Rows]string{"Checking number…", "", "Please wait", ""}},
	{"not found ru", [Rows]string{"Кошелёк не найден", "+7 (701) 123-45-67", "Проверьте номер", "OK - исправить"}},
	{"not found kk", [Rows]string{"Әмиян табылмады", "+7 (701) 123-45-67", "Нөмірді тексеріңіз", "OK - түзету"}},

	{"confirm ru", [Rows]string{"Получатель:", "Нурлан К.", "+7 (701) 123-45-67", "OK-да  CANCEL-нет"}},
	{"confirm kk", [Rows]string{"Алушы:", "Нұрлан Қ.", "+7 (701) 123-45-67", "OK-иә  CANCEL-жоқ"}},
	{"confirm en", [Rows]string{"Recipient:", "Nurlan K.", "+7 (701) 123-45-67", "OK-yes CANCEL-no"}},

	{"confirm_offline ru", [Rows]string{"Банк недоступен", "Введите номер", "ещё раз", "+7 (___) ___-__-__"}},
	{"confirm_offline kk", [Rows]string{"Банк қолжетімсіз", "Нөмірді қайта", "енгізіңіз", "+7 (___) ___-__-__"}},
	{"confirm_offline en", [Rows]string{"Bank offline", "Type the number", "again", "+7 (___) ___-__-__"}},

	{"insert_cash ru", [Rows]string{"Вставьте купюры", "Внесено: 12 500 ₸", "Макс: 200 000 ₸", "OK - оплатить"}},
	{"insert_cash kk", [Rows]string{"Купюраларды салыңыз", "Салынды: 12 500 ₸", "Макс: 200 000 ₸", "OK - төлеу"}},
	{"insert_cash en", [Rows]string{"Insert banknotes", "Inserted: 12 500 ₸", "Max: 200 000 ₸", "OK - pay"}},
	{"at maximum ru", [Rows]string{"Внесено: 200 000 ₸", "Это максимум", "", "Нажмите OK"}},
	{"at maximum kk", [Rows]string{"Салынды: 200 000 ₸", "Бұл ең көбі", "", "OK басыңыз"}},
	{"at maximum en", [Rows]string{"Inserted: 200 000 ₸", "That is the maximum", "", "Press OK to pay"}},
	{"no refund ru", [Rows]string{"Деньги не вернуть", "Нажмите OK", "для зачисления", "Внесено: 12 500 ₸"}},
	{"no refund kk", [Rows]string{"Ақша қайтарылмайды", "OK басыңыз,", "әмиянға түседі", "Салынды: 12 500 ₸"}},
	{"no refund en", [Rows]string{"Cash cannot be", "given back", "Press OK to pay", "Inserted: 12 500 ₸"}},

	{"completing ru", [Rows]string{"", "Подождите…", "", ""}},
	{"completing kk", [Rows]string{"", "Күте тұрыңыз…", "", ""}},
	{"completing en", [Rows]string{"", "Please wait…", "", ""}},

	{"done ru", [Rows]string{"Зачислено 12 500 ₸", "Чек № 000123", "При задержке —", "до 30 минут"}},
	{"done kk", [Rows]string{"Есепке алынды", "12 500 ₸  Чек 000123", "Кідіріс болса —", "30 минут ішінде"}},
	{"done en", [Rows]string{"Credited 12 500 ₸", "Receipt 000123", "If delayed, within", "30 minutes"}},

	{"out_of_service ru", [Rows]string{"Временно", "не работает", "", "Приносим извинения"}},
	{"out_of_service kk", [Rows]string{"Уақытша", "жұмыс істемейді", "", "Кешірім сұраймыз"}},
	{"out_of_service en", [Rows]string{"Temporarily", "out of service", "", "Sorry"}},

	{"maintenance ru", [Rows]string{"Идёт обслуживание", "", "Подождите", ""}},
	{"maintenance kk", [Rows]string{"Қызмет көрсету", "жүріп жатыр", "", "Күте тұрыңыз"}},
	{"maintenance en", [Rows]string{"Service in progress", "", "Please wait", ""}},
}
