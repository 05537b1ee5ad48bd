package checker

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// JUnit output is the XML that GitLab (artifacts:reports:junit), Jenkins and
// the GitHub test-report actions read: a test suite per file, a test case per
// object, a failure for a denied object and a skipped test case for an
// object that is neither a Pod nor a workload.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the report as JUnit XML. A denied object's test case
// fails, its failure listing every violation; the details of every object
// (violations under warn and audit, warnings, defaults) are its system-out,
// in the lines of text output. Suites and cases are in input order.
func (r *Report) WriteJUnit(w io.Writer) error {
	type entry struct {
		index int
		file  string
		tc    junitCase
	}
	var entries []entry
	for i := range r.Results {
		res := &r.Results[i]
		tc := junitCase{Name: objectName(res), Classname: res.File, File: res.File, Line: res.Line}
		var details []string
		if res.Exempt {
			details = append(details, fmt.Sprintf("exempt: namespace %s is exempt", res.Namespace))
		}
		for _, v := range res.Violations {
			details = append(details, fmt.Sprintf("%s %s: %s", violationLabel[res.Mode], v.Rule, v.Message))
		}
		for _, warning := range res.Warnings {
			details = append(details, "warning: "+warning)
		}
		for _, op := range res.Patch {
			details = append(details, fmt.Sprintf("default: %s", op))
		}
		if len(details) > 0 {
			tc.SystemOut = strings.Join(details, "\n") + "\n"
		}
		if !res.Allowed {
			var text strings.Builder
			for _, v := range res.Violations {
				fmt.Fprintf(&text, "%s: %s\n", v.Rule, v.Message)
			}
			tc.Failure = &junitFailure{
				Message: fmt.Sprintf("denied: %d %s of the HostProcess policy", len(res.Violations), plural(len(res.Violations), "violation", "violations")),
				Type:    string(config.ModeEnforce),
				Text:    text.String(),
			}
		}
		entries = append(entries, entry{res.index, res.File, tc})
	}
	for i := range r.Skipped {
		s := &r.Skipped[i]
		name := s.Kind
		switch {
		case s.Namespace != "":
			name += " " + s.Namespace + "/" + s.Name
		case s.Name != "":
			name += " " + s.Name
		}
		entries = append(entries, entry{s.index, s.File, junitCase{
			Name: name, Classname: s.File, File: s.File, Line: s.Line, Skipped: &junitSkipped{Message: s.Reason},
		}})
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.index, b.index) })

	out := junitSuites{Name: "hostprocess-admission check"}
	suite := map[string]int{}
	for _, e := range entries {
		i, ok := suite[e.file]
		if !ok {
			i = len(out.Suites)
			suite[e.file] = i
			out.Suites = append(out.Suites, junitSuite{Name: e.file})
		}
		s := &out.Suites[i]
		s.Cases = append(s.Cases, e.tc)
		s.Tests++
		out.Tests++
		if e.tc.Failure != nil {
			s.Failures++
			out.Failures++
		}
		if e.tc.Skipped != nil {
			s.Skipped++
			out.Skipped++
		}
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
