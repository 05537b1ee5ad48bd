// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 for
// the test control plane (see hack/build-control-plane.sh). It is the same
// entry point as upstream's etcd binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
