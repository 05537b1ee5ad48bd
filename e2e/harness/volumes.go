//go:build linux

package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// VolumeSync stands in for the kubelet for the webhook container's
// ConfigMap and Secret volumes, and for nothing else: it writes their keys
// into local directories the way the kubelet's atomic writer does (a
// timestamped directory, a ..data symlink swapped in one rename, and one
// symlink per key through ..data), and rewrites them whenever the object's
// resourceVersion changes. The kubelet takes up to a minute for that; the
// sync polls every Interval.
type VolumeSync struct {
	Client   kubernetes.Interface
	Interval time.Duration

	mu      sync.Mutex
	volumes []*syncedVolume
	cancel  context.CancelFunc
	done    chan struct{}
}

type syncedVolume struct {
	kind      string // "ConfigMap" or "Secret"
	namespace string
	name      string
	items     []corev1.KeyToPath
	optional  bool
	dir       string
	version   string
	writes    int
}

// Add registers a ConfigMap or Secret volume of a pod in namespace, to be
// written into dir. Volumes of other kinds return an error.
func (s *VolumeSync) Add(namespace string, v corev1.Volume, dir string) error {
	sv := &syncedVolume{namespace: namespace, dir: dir}
	switch {
	case v.ConfigMap != nil:
		sv.kind, sv.name, sv.items = "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items
		sv.optional = v.ConfigMap.Optional != nil && *v.ConfigMap.Optional
	case v.Secret != nil:
		sv.kind, sv.name, sv.items = "Secret", v.Secret.SecretName, v.Secret.Items
		sv.optional = v.Secret.Optional != nil && *v.Secret.Optional
	default:
		return fmt.Errorf("volume %q: only configMap and secret volumes are synced", v.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.volumes = append(s.volumes, sv)
	return nil
}

// SyncOnce writes every volume whose object changed since the last write.
func (s *VolumeSync) SyncOnce(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.volumes {
		if err := v.sync(ctx, s.Client); err != nil {
			return err
		}
	}
	return nil
}

// Start syncs once (the kubelet mounts volumes before it starts a container)
// and then every Interval until Stop.
func (s *VolumeSync) Start(ctx context.Context) error {
	if err := s.SyncOnce(ctx); err != nil {
		return err
	}
	if s.Interval == 0 {
		s.Interval = 500 * time.Millisecond
	}
	ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Errors (an API server hiccup, the object deleted by helm
				// uninstall) keep the last files, as the kubelet does.
				_ = s.SyncOnce(ctx)
			}
		}
	}()
	return nil
}

// Stop ends the sync started by Start.
func (s *VolumeSync) Stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// Writes reports how many times the volume of the named object was written.
func (s *VolumeSync) Writes(kind, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.volumes {
		if v.kind == kind && v.name == name {
			n += v.writes
		}
	}
	return n
}

func (v *syncedVolume) sync(ctx context.Context, c kubernetes.Interface) error {
	var (
		version string
		data    map[string][]byte
		err     error
	)
	switch v.kind {
	case "ConfigMap":
		var cm *corev1.ConfigMap
		cm, err = c.CoreV1().ConfigMaps(v.namespace).Get(ctx, v.name, metav1.GetOptions{})
		if err == nil {
			version = cm.ResourceVersion
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
		}
	case "Secret":
		var sec *corev1.Secret
		sec, err = c.CoreV1().Secrets(v.namespace).Get(ctx, v.name, metav1.GetOptions{})
		if err == nil {
			version, data = sec.ResourceVersion, sec.Data
		}
	}
	if apierrors.IsNotFound(err) && v.optional {
		version, data, err = "absent", map[string][]byte{}, nil
	}
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", v.kind, v.namespace, v.name, err)
	}
	if version == v.version {
		return nil
	}
	files := data
	if len(v.items) > 0 {
		files = map[string][]byte{}
		for _, it := range v.items {
			b, ok := data[it.Key]
			if !ok {
				if v.optional {
					continue
				}
				return fmt.Errorf("%s %s/%s has no key %q", v.kind, v.namespace, v.name, it.Key)
			}
			files[it.Path] = b
		}
	}
	if err := writeAtomically(v.dir, files); err != nil {
		return err
	}
	v.version = version
	v.writes++
	return nil
}

// writeAtomically replaces the files under dir the way the kubelet's
// AtomicWriter does: readers see either all old or all new files.
func writeAtomically(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	top := map[string]bool{}
	for _, p := range paths {
		if filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), "..") {
			return fmt.Errorf("volume path %q escapes the volume", p)
		}
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
		top[strings.SplitN(filepath.ToSlash(filepath.Clean(p)), "/", 2)[0]] = true
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return err
		}
	}
	// Keys that are gone: their symlinks now dangle; remove them.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
