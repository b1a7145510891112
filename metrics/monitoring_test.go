package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"tolem/kiosk"
	"tolem/metrics"
)

const monitoringDir = "../configs/monitoring"

// The alert rules load into Prometheus and each alert fires on what it is
// for (promtool test rules runs tolem.rules.test.yml). make test installs
// promtool (Debian's prometheus package); without it this test skips.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make test-deps installs it): the alert rules are not checked")
	}
	for _, args := range [][]string{
		{"check", "rules", "tolem.rules.yml"},
		{"test", "rules", "tolem.rules.test.yml"},
		{"check", "config", "--syntax-only", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = monitoringDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exported lists every metric name a kiosk with a printer exports, with the
// _bucket, _sum and _count series of its histograms.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Options{
		Source:  &fakeSource{bank: metrics.Bank{Known: true}, ledgerOK: true, cassette: metrics.Cassette{Capacity: 1000}},
		Printer: fakePrinter{},
	})
	// Vectors show once they have a child.
	m.LedgerCommit("record_escrow", time.Millisecond)
	m.BankRequest("GET /v1/ping", 200, time.Millisecond)
	m.BillStacked(kiosk.Tenge(1000))
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"up": true} // Prometheus's own, per target
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:tolem|go|process)_[a-z0-9_]+\b|\bup\b`)

// referenced collects the metric names in the PromQL of exprs.
func referenced(exprs []string) []string {
	var out []string
	for _, e := range exprs {
		// Label matchers and template text hold no metric names.
		e = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(e, "{}")
		for _, n := range metricName.FindAllString(e, -1) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func ruleExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "tolem.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("%d rules read, want every alert", len(exprs))
	}
	return exprs
}

// dashboard is what Grafana needs of a dashboard JSON to load it.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Time          *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         *int   `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the dashboard is not JSON Grafana can read: %v", err)
	}
	return d
}

func TestGrafanaDashboardLoads(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" || len(d.UID) > 40 || d.SchemaVersion < 36 || d.Time == nil {
		t.Errorf("dashboard header: title %q uid %q schemaVersion %d time %v", d.Title, d.UID, d.SchemaVersion, d.Time)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Name == "" || v.Type == "" {
			t.Errorf("template variable %+v lacks a name or a type", v)
		}
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["terminal"] != "query" {
		t.Errorf("template variables %v, want datasource (datasource) and terminal (query)", vars)
	}
	ids := map[int]bool{}
	type rect struct{ x, y, w, h int }
	var rects []rect
	var rows []string
	for _, p := range d.Panels {
		switch {
		case p.ID == nil || ids[*p.ID]:
			t.Errorf("panel %q: missing or repeated id", p.Title)
		case p.Type == "" || p.Title == "":
			t.Errorf("panel %d: no type or title", *p.ID)
		case p.GridPos == nil || p.GridPos.W < 1 || p.GridPos.H < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24:
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
			continue
		}
		ids[*p.ID] = true
		g := rect{p.GridPos.X, p.GridPos.Y, p.GridPos.W, p.GridPos.H}
		for _, r := range rects {
			if g.x < r.x+r.w && r.x < g.x+g.w && g.y < r.y+r.h && r.y < g.y+g.h {
				t.Errorf("panel %q at %+v overlaps another at %+v", p.Title, g, r)
			}
		}
		rects = append(rects, g)
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the prometheus ${datasource}", p.Title, p.Datasource)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target %+v lacks an expr or a unique refId", p.Title, tg)
			}
			refs[tg.RefID] = true
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	if len(rows) != 2 || !strings.Contains(rows[1], "$terminal") {
		t.Errorf("rows %q, want the fleet overview then one kiosk ($terminal)", rows)
	}
}

// A rule or a panel on a name the kiosk does not export never fires and
// never draws; a renamed metric must fail here first.
func TestMonitoringNamesAreExported(t *testing.T) {
	names := exported(t)
	exprs := ruleExprs(t)
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	refs := referenced(exprs)
	for _, n := range refs {
		if !names[n] {
			t.Errorf("%s is used by the alert rules or the dashboard but the kiosk does not export it", n)
		}
	}
	for _, want := range []string{"tolem_state", "tolem_queue_oldest_age_seconds", "tolem_printer_fault", "tolem_clock_offset_seconds", "tolem_door_alarm"} {
		if !slices.Contains(refs, want) {
			t.Errorf("%s is not used by any rule or panel", want)
		}
	}
}
