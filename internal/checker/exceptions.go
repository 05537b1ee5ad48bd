package checker

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// exceptionGroupKind is the HostProcessException's.
var exceptionGroupKind = schema.GroupKind{Group: config.Group, Kind: config.ExceptionKind}

// exceptionNote is what check makes of a HostProcessException of its input:
// the compiled exception when it applies at the time of the check, and the
// line the report shows for it among the skipped objects.
type exceptionNote struct {
	compiled *policy.Exception
	reason   string
}

// readException decodes, validates and compiles the exception o, as the
// webhook would have validated it when it was created: at its
// creationTimestamp, or now when it has none (a manifest about to be
// applied). An invalid or expired exception applies to nothing.
func readException(p *policy.Policy, o manifest.Object, now time.Time) exceptionNote {
	data, err := json.Marshal(o.Object)
	if err != nil {
		return exceptionNote{reason: "HostProcessException could not be read: " + err.Error()}
	}
	var e config.HostProcessException
	strict, err := kjson.UnmarshalStrict(data, &e)
	if err == nil && len(strict) > 0 {
		err = strict[0]
	}
	if err != nil {
		return exceptionNote{reason: "HostProcessException is invalid and applies to nothing: " + err.Error()}
	}
	created := now
	if !e.CreationTimestamp.IsZero() {
		created = e.CreationTimestamp.Time
	}
	ch := config.ExceptionChange{Now: created, Created: created}
	if errs := config.ValidateException(&e, p.Config(), ch); len(errs) > 0 {
		return exceptionNote{reason: "HostProcessException is invalid and applies to nothing: " + errs.ToAggregate().Error()}
	}
	x, err := policy.CompileException(&e)
	if err != nil {
		return exceptionNote{reason: "HostProcessException is invalid and applies to nothing: " + err.Error()}
	}
	expires := x.ExpiresAt.UTC().Format(time.RFC3339)
	if !x.ActiveAt(now) {
		return exceptionNote{reason: fmt.Sprintf("HostProcessException expired at %s and applies to nothing", expires)}
	}
	return exceptionNote{compiled: x, reason: fmt.Sprintf("HostProcessException: applied to the pods and workloads of the input until %s", expires)}
}
