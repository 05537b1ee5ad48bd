package checker

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
)

// githubCommand is the GitHub Actions workflow command for a violation, by
// mode: a violation that denies is an error.
var githubCommand = map[config.Mode]string{
	config.ModeEnforce: "error",
	config.ModeWarn:    "warning",
	config.ModeAudit:   "notice",
}

// WriteGitHub writes GitHub Actions workflow commands, which the runner
// turns into annotations on the file and line of each object:
//
//	::error file=examples/rejected/bad-user.yaml,line=7,title=HostProcess policy%3A runAsUserName::Pod hostprocess-examples/bad-user: ...
//
// one per violation (error when it denies the object, warning under warn,
// notice under audit) and one warning per warning, then the summary line.
func (r *Report) WriteGitHub(w io.Writer) error {
	var b strings.Builder
	for i := range r.Results {
		res := &r.Results[i]
		for _, v := range res.Violations {
			writeGitHubCommand(&b, githubCommand[res.Mode], res, "HostProcess policy: "+v.Rule, objectName(res)+": "+v.Message)
		}
		for _, warning := range res.Warnings {
			writeGitHubCommand(&b, "warning", res, "HostProcess policy: warning", objectName(res)+": "+warning)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%d %s: %d admitted, %d denied, %d skipped\n",
		s.Objects, plural(s.Objects, "object", "objects"), s.Admitted, s.Denied, s.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeGitHubCommand(b *strings.Builder, command string, res *Result, title, message string) {
	var props []string
	if res.File != manifest.StdinName {
		props = append(props, "file="+githubProperty(res.File))
		if res.Line > 0 {
			props = append(props, "line="+strconv.Itoa(res.Line))
		}
	}
	props = append(props, "title="+githubProperty(title))
	fmt.Fprintf(b, "::%s %s::%s\n", command, strings.Join(props, ","), githubData(message))
}

// githubData escapes a workflow command's message as the Actions toolkit
// does (@actions/core escapeData).
func githubData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// githubProperty escapes a workflow command's property value as the Actions
// toolkit does (@actions/core escapeProperty).
func githubProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
