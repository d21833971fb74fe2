// Command etcd runs the etcd server, the same entry point as upstream's etcd
// binary (go.etcd.io/etcd/v3's main), built from the server module alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
