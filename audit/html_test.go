//go:build !windows

package audit_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
)

// chromium runs Debian's chromium headless with args and the page URL, returning stdout.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: run hack/install-chromium.sh (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// The HTML page opens in a browser with every object as a table row, both charts laid out,
// sorting by a column, and the bars drawn in the screenshot.
func TestHTMLReportRendersInChromium(t *testing.T) {
	res, _ := collectFixtures(t, "")
	dir := t.TempDir()
	page := filepath.Join(dir, "audit.html")
	html := render(t, res, audit.FormatHTML)
	if err := os.WriteFile(page, html, 0o644); err != nil {
		t.Fatal(err)
	}
	// The page of the fixture cluster is the golden page of html_golden_test.go's "fixtures" case.
	if want, err := os.ReadFile(filepath.Join("testdata", "html", "fixtures.html")); err != nil || !bytes.Equal(html, want) {
		t.Errorf("the HTML of the fixture cluster is not testdata/html/fixtures.html (%v):\n%s", err, cmp.Diff(string(want), string(html)))
	}
	url := "file://" + page

	dom := chromium(t, "--dump-dom", url)
	for _, o := range res.Objects {
		row := `data-object="` + o.Namespace + "/" + o.Kind + "/" + o.Name + `"`
		if !strings.Contains(dom, row) {
			t.Errorf("the DOM has no row with %s", row)
		}
	}
	if got := strings.Count(dom, `<tr class="`); got != len(res.Objects) {
		t.Errorf("%d inventory rows, want %d", got, len(res.Objects))
	}
	for _, chart := range []struct {
		id   string
		bars int
	}{{"chart-users", len(res.Summary.ByUser)}, {"chart-violations", len(res.Summary.ByRule)}} {
		m := regexp.MustCompile(`(?s)<svg class="chart [a-z]+" id="` + chart.id + `"[^>]*>.*?</svg>`).FindString(dom)
		if m == "" {
			t.Errorf("no %s in the DOM", chart.id)
			continue
		}
		if !strings.Contains(m[:strings.Index(m, ">")], `data-rendered="true"`) {
			t.Errorf("%s was not laid out with sized bars: %s", chart.id, m[:strings.Index(m, ">")+1])
		}
		if got := strings.Count(m, `class="bar"`); got != chart.bars {
			t.Errorf("%s has %d bars, want %d", chart.id, got, chart.bars)
		}
	}

	// #sort=pods-desc sorts the inventory by pod count on load: the DaemonSet with two pods first.
	sorted := chromium(t, "--dump-dom", url+"#sort=pods-desc")
	first := regexp.MustCompile(`<tr class="[a-z]+" data-object="([^"]+)"`).FindStringSubmatch(sorted)
	if first == nil || first[1] != "hp-system/DaemonSet/csi-proxy" {
		t.Errorf("first row after sorting by pods descending = %v, want hp-system/DaemonSet/csi-proxy", first)
	}
	if !strings.Contains(sorted, `data-key="pods" data-type="number" aria-sort="descending"`) {
		t.Error("the Pods header is not marked aria-sort=descending")
	}

	shot := filepath.Join(dir, "audit.png")
	if dst := os.Getenv("AUDIT_SCREENSHOT"); dst != "" {
		shot = dst
	}
	chromium(t, "--screenshot="+shot, "--window-size=1600,1000", "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// The user bars are #0969da and the violation bars #cf222e; count their pixels.
	blue, red := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case near(r, 0x09) && near(g, 0x69) && near(bl, 0xda):
				blue++
			case near(r, 0xcf) && near(g, 0x22) && near(bl, 0x2e):
				red++
			}
		}
	}
	// Each bar is at least 2x18 pixels; the bars of the fixtures are far wider.
	if blue < 2000 || red < 2000 {
		t.Errorf("the screenshot %s shows %d pixels of user bars and %d of violation bars; want the charts drawn", shot, blue, red)
	}
}

func near(a, b uint32) bool { return a+3 >= b && a <= b+3 }
