// Not built: this module only pins (go.sum) the sigs.k8s.io/gateway-api module whose
// config/crd/standard/*.yaml the test bed installs (`go mod download` verifies them).
module modelship.dev/testbed/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.1
