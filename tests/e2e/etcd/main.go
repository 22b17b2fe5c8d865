// Command etcd is the etcd server of the end-to-end test cluster. etcd's own
// main package lives in a module with replace directives, which the go command
// does not build as a dependency; its entry point is exported, so this calls it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
