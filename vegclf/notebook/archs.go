package notebook

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"

	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// ShowArchitectures lists the architectures a run can train (the --arch setting, VEGCLF_ARCH in the
// notebooks): each one's family, its parameters with the tutorial's head for a given number of classes,
// the features its head reads, its native image size, and its default weights with their ImageNet top-1
// and whether they are in the cache. It prints one line per architecture and shows them as a table.
func ShowArchitectures(classes int) {
	showHTML(architecturesTable(classes, os.Stdout))
}

// architecturesTable returns the HTML table of ShowArchitectures, printing its lines to text.
func architecturesTable(classes int, text interface{ WriteString(string) (int, error) }) string {
	cache, _ := weights.CacheDir()
	var b strings.Builder
	b.WriteString(`<table class="vegclf-archs"><tr><th>arch</th><th>family</th><th>parameters</th><th>features</th><th>image size</th><th>default weights</th><th>ImageNet top-1</th><th>cached</th></tr>`)
	for _, a := range zoo.Archs() {
		m := nn.New(a.Backbone, nn.TutorialHead(classes))
		params := 0
		for _, p := range m.Params() {
			if p.Trainable {
				params += p.Shape().Size()
			}
		}
		k := a.Default()
		cached := "no"
		if _, err := os.Stat(filepath.Join(cache, k.File)); cache != "" && err == nil {
			cached = "yes"
		}
		row := []string{a.Name, a.Family, fmt.Sprintf("%.1f M", float64(params)/1e6), fmt.Sprint(a.Backbone.FeatureDim()),
			fmt.Sprint(a.ImageSize), k.Name, fmt.Sprintf("%.1f%%", k.Top1), cached}
		b.WriteString("<tr>")
		for _, cell := range row {
			fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(cell))
		}
		b.WriteString("</tr>")
		text.WriteString(fmt.Sprintf("%-20s %-12s %9s parameters, %4s features, %dpx, weights %s (top-1 %s, cached: %s)\n",
			row[0], row[1], row[2], row[3], a.ImageSize, row[5], row[6], row[7]))
	}
	b.WriteString("</table>")
	return b.String()
}
