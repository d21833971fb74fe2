// Command coredns runs CoreDNS with only the plugins the test bed's cluster DNS uses: the
// kubernetes plugin (Service and pod names, read through a kubeconfig), bind, errors and
// health.
// Upstream's coredns.go links every plugin of the default build, cloud providers included.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() {
	coremain.Run()
}
