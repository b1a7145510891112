package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"tolem/kiosk"
)

// The hash chain (migration 0004) makes the ledger tamper-evident. Every
// insert or update of a row of the chained tables that changes its chained
// columns appends one entry to the chain table:
//
//	seq, tbl, row_id, content, prev, hash
//	content = JSON array of the row's chained columns (chainTables, in order)
//	hash    = hex(SHA-256("tolem-chain-1\n" seq "\n" tbl "\n" row_id "\n" prev "\n" content))
//
// with prev the hash of entry seq-1 ("" for the first). No key is involved:
// anyone holding the file can check it with sha256sum. What a key would add
// comes from the bank instead, which keeps the chain heads the kiosk reports
// in its heartbeats and collections: a ledger rewritten after the fact no
// longer leads to them.
//
// The entries are written by SQLite triggers, so no write path in Go has to
// remember the chain. The triggers are TEMP ones that the ledger creates on
// its own writing connection at Open: they use tolem_chain_hash, a Go
// function that only this code registers, and a trigger stored in the file
// would make every write of a release without that function (one rolled back
// to after an update) fail. A write made without the triggers (by an older
// release, or by someone with the sqlite3 shell) is not chained, and Verify
// names the row.

const (
	chainHashFunc   = "tolem_chain_hash"
	chainDigestFunc = "tolem_sha256"
	chainDomain     = "tolem-chain-1"
)

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(chainHashFunc, 5, chainHashSQL)
	sqlite.MustRegisterDeterministicScalarFunction(chainDigestFunc, 1, digestSQL)
}

// ChainHash is the hash of one chain entry, as the triggers compute it.
func ChainHash(seq int64, table, rowID, content, prev string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n%s\n%s\n%s", chainDomain, seq, table, rowID, prev, content)
	return hex.EncodeToString(h.Sum(nil))
}

func chainHashSQL(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	seq, ok := args[0].(int64)
	if !ok {
		return nil, fmt.Errorf("%s: seq is %T, not an integer", chainHashFunc, args[0])
	}
	var s [4]string
	for i, a := range args[1:] {
		switch v := a.(type) {
		case string:
			s[i] = v
		case []byte:
			s[i] = string(v)
		default:
			return nil, fmt.Errorf("%s: argument %d is %T, not text", chainHashFunc, i+2, a)
		}
	}
	return ChainHash(seq, s[0], s[1], s[2], s[3]), nil
}

// digestSQL stands in the content for a body: its SHA-256, NULL for NULL.
func digestSQL(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	var b []byte
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return nil, fmt.Errorf("%s: argument is %T, not a blob", chainDigestFunc, v)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// chainColumn is one column of a row's canonical content: expr with the
// row's alias in place of %[1]s.
type chainColumn struct {
	name string
	expr string
}

// chainTable is a table whose rows the chain follows. The columns are the
// ones that matter to money and to the audit; delivery bookkeeping (attempts,
// next attempt, last error, notes, updated_at) changes on every retry and is
// left out, so that a long outage does not grow the chain.
type chainTable struct {
	name string
	// intKey: the id column is an INTEGER (the chain stores it as text).
	intKey bool
	cols   []chainColumn
	// tail are columns added after the chain began, chained only on a row
	// where one of them is not empty: every older row keeps the content
	// it was chained with.
	tail []chainColumn
}

func col(name string) chainColumn { return chainColumn{name, "%[1]s." + name} }

// chainTables are in the order of migration 0004's backfill, whose content
// expressions must stay the same as these.
var chainTables = []chainTable{
	{"cassette_periods", true, []chainColumn{col("id"), col("opened_at"), col("closed_at"), col("seal"),
		col("collection_id"), col("sync_state"), {"body_sha256", chainDigestFunc + "(%[1]s.body)"}, col("counted")}, nil},
	{"bills", false, []chainColumn{col("id"), col("session_id"), col("seq"), col("value"), col("state"),
		col("escrowed_at"), col("settled_at"), col("period_id"), col("stack_at"), col("uncertain_why")}, nil},
	{"topups", false, []chainColumn{col("id"), col("receipt_no"), col("session_id"), col("phone"), col("amount"),
		col("offline"), col("created_at"), col("completed_at"), col("recovered"), col("sync_state"),
		col("credited_at"), {"body_sha256", chainDigestFunc + "(%[1]s.body)"}, col("reconciled")},
		[]chainColumn{col("service"), col("account")}},
	{"audit", true, []chainColumn{col("id"), col("at"), col("actor"), col("action"), col("detail")}, nil},
}

// content is the SQL expression of a row's canonical content.
func (t chainTable) content(alias string) string {
	exprs := make([]string, len(t.cols))
	for i, c := range t.cols {
		exprs[i] = fmt.Sprintf(c.expr, alias)
	}
	head := "json_array(" + strings.Join(exprs, ", ") + ")"
	if len(t.tail) == 0 {
		return head
	}
	var empty []string
	for _, c := range t.tail {
		e := fmt.Sprintf(c.expr, alias)
		exprs = append(exprs, e)
		empty = append(empty, e+" = ''")
	}
	return "(CASE WHEN " + strings.Join(empty, " AND ") + " THEN " + head +
		" ELSE json_array(" + strings.Join(exprs, ", ") + ") END)"
}

// append is the trigger body that chains the row NEW.
func (t chainTable) append() string {
	// MAX(seq) with the bare column hash reads both from the last entry
	// (one b-tree descent); on an empty chain both are NULL.
	return fmt.Sprintf(`INSERT INTO chain (seq, tbl, row_id, content, prev, hash)
		SELECT s, '%[1]s', r, c, p, %[2]s(s, '%[1]s', r, c, p) FROM (SELECT
			IFNULL(MAX(seq), 0) + 1 AS s, IFNULL(hash, '') AS p,
			CAST(NEW.id AS TEXT) AS r, %[3]s AS c FROM chain);`,
		t.name, chainHashFunc, t.content("NEW"))
}

func (t chainTable) triggers() []string {
	return []string{
		fmt.Sprintf(`CREATE TEMP TRIGGER IF NOT EXISTS chain_%[1]s_insert AFTER INSERT ON main.%[1]s
			BEGIN %[2]s END`, t.name, t.append()),
		fmt.Sprintf(`CREATE TEMP TRIGGER IF NOT EXISTS chain_%[1]s_update AFTER UPDATE ON main.%[1]s
			WHEN %[2]s IS NOT %[3]s
			BEGIN %[4]s END`, t.name, t.content("OLD"), t.content("NEW"), t.append()),
	}
}

// installChain creates the chain's triggers on the writing connection (the
// pool holds exactly one, for good). It is a no-op when they exist.
func installChain(ctx context.Context, w *sql.DB) error {
	for _, t := range chainTables {
		for _, q := range t.triggers() {
			if _, err := w.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("hash chain: trigger on %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// chainTriggerCount counts the chain's triggers on the writing connection.
func chainTriggerCount(ctx context.Context, w *sql.DB) (int, error) {
	var n int
	err := w.QueryRowContext(ctx, `SELECT COUNT(*) FROM temp.sqlite_master
		WHERE type = 'trigger' AND name LIKE 'chain\_%' ESCAPE '\'`).Scan(&n)
	return n, err
}

// ChainHead returns the chain's entry count and last hash: what the
// heartbeat and each collection report to the bank. It also makes sure the
// writing connection still chains: should database/sql ever have replaced
// that connection, the triggers are put back and the gap is logged (Verify
// will name the rows written in it).
func (l *Ledger) ChainHead(ctx context.Context) (kiosk.ChainHead, error) {
	if n, err := chainTriggerCount(ctx, l.w); err == nil && n < 2*len(chainTables) {
		l.log.Error("hash chain triggers were missing on the writing connection; rows written since are not chained",
			"triggers", n)
		if err := installChain(ctx, l.w); err != nil {
			return kiosk.ChainHead{}, fmt.Errorf("ledger: chain head: %w", err)
		}
	}
	var h kiosk.ChainHead
	err := l.read(ctx, "chain head", func(tx *sql.Tx) error {
		var err error
		h, err = chainHead(ctx, tx)
		return err
	})
	return h, err
}

func chainHead(ctx context.Context, tx *sql.Tx) (kiosk.ChainHead, error) {
	var h kiosk.ChainHead
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1`).Scan(&h.Count, &h.Head)
	if err == sql.ErrNoRows {
		return kiosk.ChainHead{}, nil
	}
	return h, err
}

// CollectionChainHead is the chain head right after the collection id was
// closed: the entry that recorded its closing. A collection's body carries
// it, so that the body is the same whenever it is first sent. Unknown id, or
// a collection closed before the chain existed: kiosk.ErrNotFound.
func (l *Ledger) CollectionChainHead(ctx context.Context, id string) (kiosk.ChainHead, error) {
	var h kiosk.ChainHead
	err := l.read(ctx, "chain head of collection "+id, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT c.seq, c.hash FROM cassette_periods p
			JOIN chain c ON c.tbl = 'cassette_periods' AND c.row_id = CAST(p.id AS TEXT)
			WHERE p.collection_id = ? AND json_extract(c.content, '$[4]') IS NOT NULL
			ORDER BY c.row_id, c.seq LIMIT 1`, id).Scan(&h.Count, &h.Head)
		if err == sql.ErrNoRows {
			return kiosk.ErrNotFound
		}
		return err
	})
	return h, err
}

// maxBreaks bounds a report: the first problem is what a technician acts on.
const maxBreaks = 20

// VerifyChain walks the chain, recomputes every hash, and checks each row of
// the chained tables against its last entry. It reads one snapshot of the
// ledger and writes nothing. The report lists the first problems found: a
// broken chain first (in entry order), then rows, in the order of their last
// entry (rows the chain never saw last).
func (l *Ledger) VerifyChain(ctx context.Context) (kiosk.ChainReport, error) {
	var r kiosk.ChainReport
	err := l.read(ctx, "verify chain", func(tx *sql.Tx) error {
		var err error
		r, err = verifyTx(ctx, tx)
		return err
	})
	return r, err
}

// VerifyFile is VerifyChain on a ledger file that no kioskd has open (an
// auditor's copy of the data directory, with its -wal file if there is one).
// It opens the file read-only and changes nothing.
func VerifyFile(ctx context.Context, path string) (kiosk.ChainReport, error) {
	if _, err := os.Stat(path); err != nil {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path, []string{"mode=ro", "_pragma=" + busyTimeout}))
	if err != nil {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: %w", path, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'chain'`).Scan(&n); err != nil {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: %w", path, err)
	}
	if n == 0 {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: no hash chain in this file (a ledger from before migration 0004, or not a ledger)", path)
	}
	r, err := verifyTx(ctx, tx)
	if err != nil {
		return kiosk.ChainReport{}, fmt.Errorf("ledger: verify %s: %w", path, err)
	}
	return r, nil
}

func verifyTx(ctx context.Context, tx *sql.Tx) (kiosk.ChainReport, error) {
	r := kiosk.ChainReport{Rows: map[string]int{}}
	var (
		chainBreaks, rowBreaks []kiosk.ChainBreak
		err                    error
	)
	if r.Head, chainBreaks, err = walkChain(ctx, tx); err != nil {
		return r, err
	}
	for _, t := range chainTables {
		n, bs, err := checkRows(ctx, tx, t)
		if err != nil {
			return r, err
		}
		r.Rows[t.name] = n
		rowBreaks = append(rowBreaks, bs...)
	}
	sort.SliceStable(rowBreaks, func(i, j int) bool {
		a, b := rowBreaks[i].Seq, rowBreaks[j].Seq
		return a != 0 && (b == 0 || a < b)
	})
	all := append(chainBreaks, rowBreaks...)
	if len(all) > maxBreaks {
		all, r.More = all[:maxBreaks], true
	}
	r.Breaks = all
	return r, nil
}

// walkChain recomputes the chain entry by entry.
func walkChain(ctx context.Context, tx *sql.Tx) (kiosk.ChainHead, []kiosk.ChainBreak, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, tbl, row_id, content, prev, hash FROM chain ORDER BY seq`)
	if err != nil {
		return kiosk.ChainHead{}, nil, err
	}
	defer rows.Close()
	var (
		head   kiosk.ChainHead
		breaks []kiosk.ChainBreak
		prev   string
	)
	for rows.Next() {
		var (
			seq                               int64
			tbl, rowID, content, ePrev, eHash string
		)
		if err := rows.Scan(&seq, &tbl, &rowID, &content, &ePrev, &eHash); err != nil {
			return kiosk.ChainHead{}, nil, err
		}
		brk := func(what string) {
			if len(breaks) < maxBreaks {
				breaks = append(breaks, kiosk.ChainBreak{Seq: seq, What: what})
			}
		}
		switch {
		case seq != head.Count+1:
			brk(fmt.Sprintf("entries %d to %d are missing from the chain", head.Count+1, seq-1))
		case ePrev != prev:
			brk(fmt.Sprintf("the entry's previous hash %.12s… is not the hash of entry %d (%.12s…)", ePrev, seq-1, prev))
		}
		if want := ChainHash(seq, tbl, rowID, content, ePrev); want != eHash {
			brk(fmt.Sprintf("the entry (%s %s) was changed: its hash is %.12s…, its content hashes to %.12s…",
				tbl, rowID, eHash, want))
		}
		head = kiosk.ChainHead{Count: seq, Head: eHash}
		prev = eHash
	}
	return head, breaks, rows.Err()
}

// checkRows compares every row of t with its last chain entry, and finds the
// rows the chain saw that are gone.
func checkRows(ctx context.Context, tx *sql.Tx, t chainTable) (int, []kiosk.ChainBreak, error) {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`WITH last (row_id, seq) AS (
			SELECT row_id, MAX(seq) FROM chain WHERE tbl = '%[1]s' GROUP BY row_id)
		SELECT CAST(t.id AS TEXT), %[2]s, c.seq, c.content FROM main.%[1]s t
		LEFT JOIN last ON last.row_id = CAST(t.id AS TEXT)
		LEFT JOIN chain c ON c.seq = last.seq
		ORDER BY c.seq`, t.name, t.content("t")))
	if err != nil {
		return 0, nil, fmt.Errorf("check %s: %w", t.name, err)
	}
	defer rows.Close()
	var (
		n      int
		breaks []kiosk.ChainBreak
	)
	for rows.Next() {
		var (
			rowID, cur string
			seq        sql.NullInt64
			content    sql.NullString
		)
		if err := rows.Scan(&rowID, &cur, &seq, &content); err != nil {
			return 0, nil, fmt.Errorf("check %s: %w", t.name, err)
		}
		n++
		if len(breaks) >= maxBreaks {
			continue
		}
		switch {
		case !seq.Valid:
			breaks = append(breaks, kiosk.ChainBreak{Table: t.name, RowID: rowID, Row: cur,
				What: "the row is not in the chain: it was written behind the ledger's back"})
		case content.String != cur:
			b := kiosk.ChainBreak{Seq: seq.Int64, Table: t.name, RowID: rowID,
				What: fmt.Sprintf("the row differs from its last chain entry (%d): it was changed behind the ledger's back", seq.Int64)}
			b.Field, b.Chain, b.Row = t.diff(content.String, cur)
			breaks = append(breaks, b)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("check %s: %w", t.name, err)
	}
	key := "c.row_id"
	if t.intKey {
		key = "CAST(c.row_id AS INTEGER)"
	}
	gone, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT c.row_id, MAX(c.seq) FROM chain c
		WHERE c.tbl = '%[1]s' GROUP BY c.row_id
		HAVING NOT EXISTS (SELECT 1 FROM main.%[1]s t WHERE t.id = %[2]s)
		ORDER BY 2 LIMIT %[3]d`, t.name, key, maxBreaks))
	if err != nil {
		return 0, nil, fmt.Errorf("check %s: %w", t.name, err)
	}
	defer gone.Close()
	for gone.Next() {
		var (
			rowID string
			seq   int64
		)
		if err := gone.Scan(&rowID, &seq); err != nil {
			return 0, nil, fmt.Errorf("check %s: %w", t.name, err)
		}
		breaks = append(breaks, kiosk.ChainBreak{Seq: seq, Table: t.name, RowID: rowID,
			What: fmt.Sprintf("the row was removed: the chain last recorded it at entry %d", seq)})
	}
	return n, breaks, gone.Err()
}

// diff names the first column where two contents of t differ, with both
// values as JSON.
func (t chainTable) diff(chain, row string) (field, was, now string) {
	var a, b []json.RawMessage
	if json.Unmarshal([]byte(chain), &a) != nil || json.Unmarshal([]byte(row), &b) != nil {
		return "content", strconv.Quote(chain), strconv.Quote(row)
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = string(a[i])
		}
		if i < len(b) {
			y = string(b[i])
		}
		if x != y {
			name := strconv.Itoa(i)
			if i < len(t.cols) {
				name = t.cols[i].name
			} else if j := i - len(t.cols); j < len(t.tail) {
				name = t.tail[j].name
			}
			return name, x, y
		}
	}
	// Same values, other spelling: a different SQLite wrote the JSON.
	return "content", strconv.Quote(chain), strconv.Quote(row)
}
