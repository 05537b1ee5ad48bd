// Package testenv starts the real Kubernetes control plane (etcd and kube-apiserver) for tests,
// using controller-runtime's envtest with the binaries that `make tools`
// (hack/build-control-plane.sh) builds into the repository's bin/ directory.
//
// Binaries are never downloaded: if bin/kube-apiserver or bin/etcd is missing, Start fails the
// test (and New returns an error) telling the developer to run `make tools`.
//
// Typical use, one control plane per test package:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) {
//		var err error
//		if env, err = testenv.New(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		_ = env.Stop()
//		os.Exit(code)
//	}
//
// or, per test, env := testenv.Start(t), which stops it in t.Cleanup.
//
// The package builds on Linux and macOS only: controller-runtime's envtest does not compile for
// Windows (so `GOOS=windows go vet ./...` sees just this file).
package testenv
