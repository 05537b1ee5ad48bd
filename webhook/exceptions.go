package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// AnnotationExceptions is the audit annotation that names the exceptions an
// object was admitted under, with their expiry (JSON).
const AnnotationExceptions = "exceptions"

// ExceptionSource returns the HostProcessExceptions in the cluster,
// compiled; the handler applies those active at the time of the request.
type ExceptionSource interface {
	Exceptions() []*policy.Exception
}

// ExceptionCache keeps the compiled exceptions of an informer's store in
// step with it: every add, update and delete recompiles the snapshot the
// handler reads. An exception that does not compile (its grants are refused,
// as when it was written while nothing validated exceptions) is left out
// and logged: it grants nothing.
type ExceptionCache struct {
	Log      logr.Logger
	mu       sync.Mutex
	byName   map[string]*policy.Exception
	snapshot atomic.Pointer[[]*policy.Exception]
	// changed, when set, is called after each change with the new snapshot
	// (the native mode's policy updater listens here).
	changed func([]*policy.Exception)
}

// NewExceptionCache returns an empty cache; changed may be nil.
func NewExceptionCache(log logr.Logger, changed func([]*policy.Exception)) *ExceptionCache {
	c := &ExceptionCache{Log: log, byName: map[string]*policy.Exception{}, changed: changed}
	c.snapshot.Store(&[]*policy.Exception{})
	return c
}

// Exceptions returns the current snapshot, sorted by name.
func (c *ExceptionCache) Exceptions() []*policy.Exception { return *c.snapshot.Load() }

// Handler returns the informer event handler that feeds the cache.
func (c *ExceptionCache) Handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.set(obj) },
		UpdateFunc: func(_, obj any) { c.set(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if e, ok := obj.(*config.HostProcessException); ok {
				c.update(e.Name, nil)
			}
		},
	}
}

func (c *ExceptionCache) set(obj any) {
	e, ok := obj.(*config.HostProcessException)
	if !ok {
		return
	}
	x, err := policy.CompileException(e)
	if err != nil {
		c.Log.Error(err, "HostProcessException ignored: it grants nothing", "exception", e.Name)
	}
	c.update(e.Name, x)
}

// update replaces the exception name by x (nil removes it) and publishes a
// new snapshot.
func (c *ExceptionCache) update(name string, x *policy.Exception) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x == nil {
		delete(c.byName, name)
	} else {
		c.byName[name] = x
	}
	list := make([]*policy.Exception, 0, len(c.byName))
	for _, x := range c.byName {
		list = append(list, x)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	c.snapshot.Store(&list)
	if c.changed != nil {
		c.changed(list)
	}
}

// StaticExceptions is an ExceptionSource that always returns the same
// exceptions, for tests and check.
type StaticExceptions []*policy.Exception

// Exceptions returns s.
func (s StaticExceptions) Exceptions() []*policy.Exception { return s }

// exceptionResource is the resource of HostProcessException objects.
var exceptionResource = schema.GroupResource{Group: config.Group, Resource: config.ExceptionResource}

func isExceptionRequest(req *admissionv1.AdmissionRequest) bool {
	return schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource} == exceptionResource && req.SubResource == ""
}

// now returns the time of a request.
func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// exceptions returns the exceptions the handler knows, nil without a source.
func (h *Handler) exceptions() []*policy.Exception {
	if h.Exceptions == nil {
		return nil
	}
	return h.Exceptions.Exceptions()
}

// decodeException decodes a request's object or old object.
func decodeException(raw []byte, field string) (*config.HostProcessException, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("request has no HostProcessException %s", strings.TrimPrefix(field, "request."))
	}
	var e config.HostProcessException
	if err := unmarshal(raw, &e); err != nil {
		return nil, decodeError(field, withIndices(raw, err))
	}
	return &e, nil
}

// validateException validates a HostProcessException on CREATE and UPDATE
// (config.ValidateException) and checks that its creator is recorded: on
// CREATE the annotation hostprocess.dev/created-by names the requesting
// user (the mutating webhook sets it), and no UPDATE changes it.
func (h *Handler) validateException(req *admissionv1.AdmissionRequest) outcome {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allowed()
	}
	e, err := decodeException(req.Object.Raw, "request.object")
	if err != nil {
		return errored(http.StatusBadRequest, err.Error())
	}
	now := h.now()
	ch := config.ExceptionChange{Now: now, Created: now}
	creator := req.UserInfo.Username
	if req.Operation == admissionv1.Update {
		old, err := decodeException(req.OldObject.Raw, "request.oldObject")
		if err != nil {
			return errored(http.StatusBadRequest, err.Error())
		}
		ch.Old = old
		if !old.CreationTimestamp.IsZero() {
			ch.Created = old.CreationTimestamp.Time
		}
		creator = old.Annotations[config.CreatedByAnnotation]
	}
	errs := config.ValidateException(e, h.Policy().Config(), ch)
	if got := e.Annotations[config.CreatedByAnnotation]; got != creator {
		path := field.NewPath("metadata", "annotations").Key(config.CreatedByAnnotation)
		if req.Operation == admissionv1.Create {
			errs = append(errs, field.Invalid(path, got, fmt.Sprintf("must name the user who creates the exception, %q", creator)))
		} else {
			errs = append(errs, field.Invalid(path, got, fmt.Sprintf("is immutable: the exception was created by %q", creator)))
		}
	}
	if len(errs) == 0 {
		return allowed()
	}
	status := apierrors.NewInvalid(schema.GroupKind{Group: config.Group, Kind: config.ExceptionKind}, e.Name, errs).Status()
	return outcome{resp: admissionv1.AdmissionResponse{Allowed: false, Result: &status}, decision: decisionDenied}
}

// mutateException records the creator of a new HostProcessException in its
// annotation hostprocess.dev/created-by, replacing whatever the request said.
func (h *Handler) mutateException(req *admissionv1.AdmissionRequest) outcome {
	if req.Operation != admissionv1.Create {
		return allowed()
	}
	e, err := decodeException(req.Object.Raw, "request.object")
	if err != nil {
		return errored(http.StatusBadRequest, err.Error())
	}
	user := req.UserInfo.Username
	if e.Annotations[config.CreatedByAnnotation] == user {
		return allowed()
	}
	var ops []map[string]any
	if e.Annotations == nil {
		ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]string{config.CreatedByAnnotation: user}})
	} else {
		ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations/" + strings.ReplaceAll(config.CreatedByAnnotation, "/", "~1"), "value": user})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return errored(http.StatusInternalServerError, "encoding the patch: "+err.Error())
	}
	out := allowed()
	pt := admissionv1.PatchTypeJSONPatch
	out.resp.Patch, out.resp.PatchType = patch, &pt
	return out
}

// exceptionsJSON is the audit annotation's value.
func exceptionsJSON(as []policy.AppliedException) string {
	b, err := json.Marshal(as)
	if err != nil {
		return "[]"
	}
	return string(b)
}
