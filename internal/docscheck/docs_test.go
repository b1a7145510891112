package docscheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// markdownFiles are the pages a reader meets: the Markdown at the root and
// under docs/.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.md", "docs/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v under %s", files, root)
	}
	return files
}

// page is a Markdown file split into its prose and its code.
type page struct {
	path  string
	lines []line
}

type line struct {
	n    int
	text string
	code bool // in a fenced or indented code block
}

func readPage(t *testing.T, path string) page {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := page{path: path}
	fenced := false
	prevBlank := true
	indented := false
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fenced = !fenced
			p.lines = append(p.lines, line{i + 1, l, true})
			continue
		}
		// An indented block starts after a blank line; list items' wrapped
		// lines are indented too but never follow a blank line at 4 spaces
		// in these pages.
		if strings.HasPrefix(l, "    ") && (prevBlank || indented) {
			indented = true
		} else if trimmed != "" {
			indented = false
		}
		p.lines = append(p.lines, line{i + 1, l, fenced || (indented && trimmed != "")})
		prevBlank = trimmed == ""
	}
	return p
}

var (
	linkRe       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpanRe   = regexp.MustCompile("`[^`]*`")
	headingRe    = regexp.MustCompile(`^#{1,6}\s+(.*)$`)
	slugStripRe  = regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
	htmlAnchorRe = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// slug is the anchor a docs build (and GitHub) gives a heading.
func slug(heading string) string {
	s := strings.ToLower(strings.TrimSpace(heading))
	s = slugStripRe.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, " ", "-")
}

func anchors(p page) map[string]bool {
	a := map[string]bool{}
	seen := map[string]int{}
	for _, l := range p.lines {
		if l.code {
			continue
		}
		for _, m := range htmlAnchorRe.FindAllStringSubmatch(l.text, -1) {
			a[m[1]] = true
		}
		m := headingRe.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			a[s+"-"+strconv.Itoa(n)] = true
		} else {
			a[s] = true
		}
		seen[s]++
	}
	return a
}

// Every relative link in the docs leads to a file in the repository, and
// to a heading of that file when it names one.
func TestDocLinksResolve(t *testing.T) {
	root := repoRoot(t)
	pages := map[string]page{}
	for _, f := range markdownFiles(t, root) {
		pages[f] = readPage(t, f)
	}
	anchorsOf := map[string]map[string]bool{}
	checked := 0
	for _, f := range markdownFiles(t, root) {
		p := pages[f]
		rel, _ := filepath.Rel(root, f)
		for _, l := range p.lines {
			if l.code {
				continue
			}
			text := codeSpanRe.ReplaceAllString(l.text, "")
			for _, m := range linkRe.FindAllStringSubmatch(text, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				file, frag, _ := strings.Cut(target, "#")
				dest := f
				if file != "" {
					dest = filepath.Join(filepath.Dir(f), filepath.FromSlash(file))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d: link %q: no file %s", rel, l.n, target, dest)
						continue
					}
				}
				if frag == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s:%d: link %q names a heading in a file that is not Markdown", rel, l.n, target)
					continue
				}
				if anchorsOf[dest] == nil {
					dp, ok := pages[dest]
					if !ok {
						dp = readPage(t, dest)
					}
					anchorsOf[dest] = anchors(dp)
				}
				if !anchorsOf[dest][frag] {
					t.Errorf("%s:%d: link %q: %s has no heading #%s", rel, l.n, target, filepath.Base(dest), frag)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links found: the scan is broken")
	}
}

// shownCommand is a command line the docs show, and where.
type shownCommand struct {
	where string
	words []string // from kioskctl or make on, comments cut
}

var commandStartRe = regexp.MustCompile(`^(?:\$\s+)?(?:sudo\s+(?:-\S+\s+)*)?(?:\S*bin/)?(kioskctl|make)(?:\s|$)`)

// shownCommands finds every kioskctl and make command line in the docs'
// code: code blocks, and code spans that start with the command.
func shownCommands(t *testing.T, root string) []shownCommand {
	t.Helper()
	var out []shownCommand
	for _, f := range markdownFiles(t, root) {
		rel, _ := filepath.Rel(root, f)
		for _, l := range readPage(t, f).lines {
			var candidates []string
			if l.code {
				candidates = []string{l.text}
			} else {
				for _, span := range codeSpanRe.FindAllString(l.text, -1) {
					candidates = append(candidates, strings.Trim(span, "`"))
				}
			}
			for _, c := range candidates {
				c = strings.TrimSpace(c)
				m := commandStartRe.FindStringSubmatchIndex(c)
				if m == nil {
					continue
				}
				rest := c[m[2]:]
				if i := strings.Index(rest, " #"); i >= 0 {
					rest = rest[:i]
				}
				out = append(out, shownCommand{where: rel + ":" + strconv.Itoa(l.n), words: strings.Fields(rest)})
			}
		}
	}
	return out
}

// placeholder reports a word that stands for something the reader fills
// in (FILE, <cmd>, …, [--json], a|b), not a name to check.
func placeholder(w string) bool {
	return strings.ContainsAny(w, "…<>[]|{}") || w == "..." || strings.ToUpper(w) == w
}

// Every kioskctl command and every make target the docs show exists:
// kioskctl answers `<command> --help` with exit 0 (kioskd need not run),
// and make knows the target (make -n).
func TestDocCommandsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kioskctl and runs make -n")
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "kioskctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kioskctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build kioskctl: %v\n%s", err, out)
	}
	makeBin, makeErr := exec.LookPath("make")
	if makeErr != nil {
		t.Logf("make is not installed: the make targets the docs name are not checked")
	}
	cmds := shownCommands(t, root)
	seen := map[string]bool{}
	var kioskctls, makes int
	for _, c := range cmds {
		var run *exec.Cmd
		switch c.words[0] {
		case "kioskctl":
			args := kioskctlHelpArgs(c.words[1:])
			if args == nil {
				continue
			}
			kioskctls++
			run = exec.Command(bin, args...)
			// No kioskd is asked: a socket that does not exist proves it.
			run.Env = append(os.Environ(), "TOLEM_CONTROL_SOCKET="+filepath.Join(t.TempDir(), "none.sock"))
		case "make":
			if makeErr != nil {
				continue
			}
			args := []string{"-n", "--no-print-directory"}
			for _, w := range c.words[1:] {
				if strings.HasPrefix(w, "-") || (placeholder(w) && !strings.Contains(w, "=")) {
					continue
				}
				args = append(args, w)
			}
			makes++
			run = exec.Command(makeBin, args...)
			run.Dir = root
		}
		key := strings.Join(run.Args[1:], " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		if out, err := run.CombinedOutput(); err != nil {
			t.Errorf("%s: %s is shown, but `%s %s` fails: %v\n%s", c.where, strings.Join(c.words, " "), filepath.Base(run.Path), key, err, out)
		}
	}
	t.Logf("checked %d kioskctl and %d make command lines", kioskctls, makes)
	if kioskctls == 0 || (makes == 0 && makeErr == nil) {
		t.Fatalf("found %d kioskctl and %d make commands in the docs: the scan is broken", kioskctls, makes)
	}
}

// kioskctlHelpArgs turns a kioskctl line of the docs into the line that
// asks for its help: the command (and update's subcommand) with --help.
// nil means the line names no command to check.
func kioskctlHelpArgs(words []string) []string {
	var cmd []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--socket":
			i++
			continue
		case strings.HasPrefix(w, "-"):
			continue
		}
		if len(cmd) == 0 {
			if placeholder(w) {
				return nil
			}
			cmd = append(cmd, w)
			if w != "update" {
				break
			}
			continue
		}
		// update's subcommand
		if !placeholder(w) {
			cmd = append(cmd, w)
		}
		break
	}
	if len(cmd) == 0 {
		if len(words) > 0 && words[0] == "--version" {
			return []string{"--version"}
		}
		return nil
	}
	return append(cmd, "--help")
}

// make run passes ARGS on to kioskd, as the README tells a newcomer.
func TestMakeRunPassesArgs(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command(makeBin, "-n", "--no-print-directory", "run", "ARGS=--data-dir /tmp/kiosk-demo")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n run: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "bin/kioskd --sim --data-dir /tmp/kiosk-demo" {
		t.Errorf("make run runs %q, want the ARGS passed on", last)
	}
}
