package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"tolem/kiosk"
)

// BenchmarkRecordEscrowChain is BenchmarkRecordEscrow with the hash chain's
// triggers in place and, for comparison, dropped from the writing connection.
func BenchmarkRecordEscrowChain(b *testing.B) {
	for _, chained := range []bool{true, false} {
		name := "chain"
		if !chained {
			name = "no_chain"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			l, err := Open(ctx, filepath.Join(b.TempDir(), "ledger.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			if !chained {
				for _, t := range chainTables {
					for _, op := range []string{"insert", "update"} {
						if _, err := l.w.ExecContext(ctx, fmt.Sprintf(`DROP TRIGGER temp.chain_%s_%s`, t.name, op)); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			if err := l.OpenSession(ctx, kiosk.Session{ID: "s", Phone: "+77011234567", OpenedAt: t0}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: i + 1, Value: kiosk.Tenge(1000), At: t0}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
