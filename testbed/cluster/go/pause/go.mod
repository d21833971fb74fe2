// Wrapper module: the real node's pause (sandbox) image binary. No image can be pulled
// here, so the test bed makes registry.k8s.io/pause's stand-in from this program.
module modelship.dev/testbed/pause

go 1.26.0
