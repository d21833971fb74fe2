{{/*
modelship-serving.name: the chart name (or nameOverride), for app.kubernetes.io/name.
*/}}
{{- define "modelship-serving.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
modelship-serving.fullname: the base of every object name; the release name unless
fullnameOverride is set. Truncated to 52 characters so that "-preview" and the other
suffixes keep Service names within the 63 characters of a DNS label.
*/}}
{{- define "modelship-serving.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
modelship-serving.chart: name and version of the chart, for the helm.sh/chart label.
*/}}
{{- define "modelship-serving.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
modelship-serving.selectorLabels: the labels every selector starts from. They never change
across upgrades (no version, no image), so Deployment selectors stay immutable.
*/}}
{{- define "modelship-serving.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelship-serving.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
modelship-serving.labels: standard labels of every object the chart renders.
*/}}
{{- define "modelship-serving.labels" -}}
helm.sh/chart: {{ include "modelship-serving.chart" . }}
{{ include "modelship-serving.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: model-server
app.kubernetes.io/part-of: modelship
{{- end }}

{{/*
modelship-serving.testLabels: labels of the `helm test` pod. Not modelship-serving.labels: the
pod must carry neither selector label (name and instance), or the main and metrics Services
would send traffic to it; its name is <chart name>-test and its component `test`.
*/}}
{{- define "modelship-serving.testLabels" -}}
helm.sh/chart: {{ include "modelship-serving.chart" . }}
app.kubernetes.io/name: {{ printf "%s-test" (include "modelship-serving.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: modelship
{{- end }}

{{/*
modelship-serving.trackSelectorLabels: selector labels of one track's pods (dict: root,
track). The track of a Deployment never changes, so its selector is immutable too.
*/}}
{{- define "modelship-serving.trackSelectorLabels" -}}
{{ include "modelship-serving.selectorLabels" .root }}
modelship.io/track: {{ .track }}
{{- end }}

{{/*
modelship-serving.imageVersion: a label-safe model version from an image reference: the tag,
else the first 12 hex digits of the digest. "repo:1.2.3" -> 1.2.3, "repo@sha256:ab..." ->
ab0123456789.
*/}}
{{- define "modelship-serving.imageVersion" -}}
{{- $ref := . | default "" }}
{{- $name := $ref }}
{{- $digest := "" }}
{{- if contains "@" $ref }}
{{- $parts := splitList "@" $ref }}
{{- $name = first $parts }}
{{- $digest = last $parts }}
{{- end }}
{{- $lastComponent := last (splitList "/" $name) }}
{{- $version := "" }}
{{- if contains ":" $lastComponent }}
{{- $version = last (splitList ":" $lastComponent) }}
{{- else if $digest }}
{{- $version = last (splitList ":" $digest) | trunc 12 }}
{{- end }}
{{- $version }}
{{- end }}

{{/*
modelship-serving.versionLabel: (dict: version, image) the modelship.io/model-version label
value: the explicit version, else the image's; made a valid label value.
*/}}
{{- define "modelship-serving.versionLabel" -}}
{{- $v := .version | default (include "modelship-serving.imageVersion" .image) | toString }}
{{- $v = regexReplaceAll "[^A-Za-z0-9_.-]" $v "-" | trunc 63 | trimAll "-_." }}
{{- $v | default "unknown" }}
{{- end }}

{{/*
modelship-serving.roundedShare: (dict: total, weight) round(total * weight / 100), halves up.
*/}}
{{- define "modelship-serving.roundedShare" -}}
{{- div (add (mul (int .total) (int .weight)) 50) 100 }}
{{- end }}

{{/*
modelship-serving.replicaSplit: "<stable> <canary>" replica counts of the canary strategy.
replicas mode: total = stable.replicas, canary = round(total * weight / 100) (halves up);
with 0 < weight < 100 each track keeps at least 1 pod (canary clamped to 1..total-1; a total
of 1 becomes 1 + 1); weight 0: no canary pod; weight 100: all pods canary.
gateway-api / nginx: stable keeps stable.replicas; canary has canary.replicas, or the same
rounding of stable.replicas by the weight, at least 1; at weight 0 one pod (readied before the
route gives it a share), or with canary.shadow (every request mirrored to it) stable.replicas.
*/}}
{{- define "modelship-serving.replicaSplit" -}}
{{- $total := int .Values.stable.replicas }}
{{- $weight := int .Values.canary.weight }}
{{- $share := int (include "modelship-serving.roundedShare" (dict "total" $total "weight" $weight)) }}
{{- $stable := $total }}
{{- $canary := 0 }}
{{- if not .Values.canary.enabled }}
{{- else if eq .Values.traffic.mode "replicas" }}
{{- if eq $weight 0 }}
{{- else if eq $weight 100 }}
{{- $stable = 0 }}
{{- $canary = $total }}
{{- else if le $total 1 }}
{{- $stable = 1 }}
{{- $canary = 1 }}
{{- else }}
{{- $canary = max 1 (min $share (sub $total 1)) }}
{{- $stable = sub $total $canary }}
{{- end }}
{{- else if not (kindIs "invalid" .Values.canary.replicas) }}
{{- $canary = int .Values.canary.replicas }}
{{- else if gt $weight 0 }}
{{- $canary = max 1 $share }}
{{- else if .Values.canary.shadow }}
{{- /* a shadow step mirrors all of stable's requests to the canary: the same capacity */}}
{{- $canary = $total }}
{{- else }}
{{- /* weight 0: one pod that gets ready before the route sends it a share */}}
{{- $canary = 1 }}
{{- end }}
{{- printf "%d %d" (int $stable) (int $canary) }}
{{- end }}

{{/*
modelship-serving.header: the A/B header match as "name\nvalue" (empty when none), from
traffic.header given as {name, value} or as "Name", "Name=value" or "Name: value".
The value defaults to "always" (ingress-nginx's convention).
*/}}
{{- define "modelship-serving.header" -}}
{{- $h := .Values.traffic.header }}
{{- $name := "" }}
{{- $value := "" }}
{{- if kindIs "map" $h }}
{{- $name = $h.name | default "" }}
{{- $value = $h.value | default "" | toString }}
{{- else if kindIs "string" $h }}
{{- $sep := "" }}
{{- if contains ":" $h }}{{ $sep = ":" }}{{ else if contains "=" $h }}{{ $sep = "=" }}{{ end }}
{{- if $sep }}
{{- $parts := splitn $sep 2 $h }}
{{- $name = $parts._0 }}
{{- $value = $parts._1 }}
{{- else }}
{{- $name = $h }}
{{- end }}
{{- end }}
{{- $name = trim $name }}
{{- if $name }}
{{- printf "%s\n%s" $name (trim $value | default "always") }}
{{- end }}
{{- end }}

{{/*
modelship-serving.bytes: a quantity as the schema allows for sizes ("10Gi", "1.5G", "512Mi",
"1000") in bytes, as an integer string.
*/}}
{{- define "modelship-serving.bytes" -}}
{{- $quantity := toString . }}
{{- $units := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "P" 1000000000000000 "E" 1000000000000000000 }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $quantity }}
{{- $factor := index $units (trimPrefix $number $quantity) }}
{{- if contains "." $number }}
{{- printf "%d" (mulf (float64 $number) $factor | int64) }}
{{- else }}
{{- printf "%d" (mul (atoi $number) $factor) }}
{{- end }}
{{- end }}

{{/*
modelship-serving.tmpSizeLimit: tmpVolume.sizeLimit, "" when unset. `helm upgrade
--reuse-values` of a release made by chart 0.1.0 keeps that chart's values, which have no
tmpVolume: then /tmp has no limit, as before.
*/}}
{{- define "modelship-serving.tmpSizeLimit" -}}
{{- (.Values.tmpVolume | default dict).sizeLimit | default "" }}
{{- end }}

{{/*
modelship-serving.emptyDirRequest: the ephemeral-storage the model container requests, the sum
of its emptyDir size limits (the model cache when it is an emptyDir, and /tmp), so the scheduler
reserves the disk they may fill; "" when neither has a limit. "10Gi" + "1Gi" -> "11Gi".
*/}}
{{- define "modelship-serving.emptyDirRequest" -}}
{{- $sizes := list }}
{{- with .Values.modelCache }}
{{- if and .enabled (eq .type "emptyDir") .size }}
{{- $sizes = append $sizes .size }}
{{- end }}
{{- end }}
{{- with include "modelship-serving.tmpSizeLimit" . }}
{{- $sizes = append $sizes . }}
{{- end }}
{{- $total := 0 }}
{{- range $sizes }}
{{- $total = add $total (atoi (include "modelship-serving.bytes" .)) }}
{{- end }}
{{- if eq (mod $total 1073741824) 0 }}
{{- if gt $total 0 }}{{ printf "%dGi" (div $total 1073741824) }}{{ end }}
{{- else if eq (mod $total 1048576) 0 }}
{{- printf "%dMi" (div $total 1048576) }}
{{- else }}
{{- printf "%d" $total }}
{{- end }}
{{- end }}

{{/*
modelship-serving.serviceAccountName: the ServiceAccount of the model pods.
*/}}
{{- define "modelship-serving.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelship-serving.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
modelship-serving.autoscaledReplicas: (dict: root, name) the replicas rendered for a Deployment
its HPA scales. The field is always rendered: a manifest without it makes the upgrade drop it and
Kubernetes default it to 1 (the HPA then scales up from 1 pod). The live objects decide:
- the Deployment and its HPA both exist: the live count, as the HPA left it. Server-side apply
  then sees the value the HPA owns and reports no conflict; a changed minReplicas or
  maxReplicas is applied by the HPA itself.
- otherwise (HPA just enabled, or back after a canary in `replicas` mode, where the chart set
  the count): max(minReplicas, live count), so pods are never taken away (above maxReplicas
  the HPA scales down itself).
- no live Deployment (a new release, or `helm template`, where lookup finds nothing):
  minReplicas.
*/}}
{{- define "modelship-serving.autoscaledReplicas" -}}
{{- $min := int .root.Values.autoscaling.minReplicas }}
{{- $ns := .root.Release.Namespace }}
{{- $live := lookup "apps/v1" "Deployment" $ns .name }}
{{- $current := -1 }}
{{- if and $live $live.spec }}
{{- if not (kindIs "invalid" $live.spec.replicas) }}
{{- $current = int $live.spec.replicas }}
{{- end }}
{{- end }}
{{- if lt $current 0 }}
{{- $min }}
{{- else if and (gt $current 0) (lookup "autoscaling/v2" "HorizontalPodAutoscaler" $ns .name) }}
{{- $current }}
{{- else }}
{{- max $min $current }}
{{- end }}
{{- end }}

{{/*
modelship-serving.deployments: the serving Deployments the values ask for, as a YAML list of
{name, track, colour, image, version, replicas, hpa}; every workload template (Deployment,
HPA, PDB) ranges over it, so they always agree. With an HPA, replicas comes from
modelship-serving.autoscaledReplicas.
*/}}
{{- define "modelship-serving.deployments" -}}
{{- $fullname := include "modelship-serving.fullname" . }}
{{- $out := list }}
{{- if eq .Values.strategy "blue-green" }}
{{- $active := .Values.blueGreen.active }}
{{- range $colour := list "blue" "green" }}
{{- $spec := index $.Values.blueGreen $colour }}
{{- if $spec.image }}
{{- $replicas := int $.Values.stable.replicas }}
{{- if and (ne $colour $active) (not (kindIs "invalid" $.Values.blueGreen.idleReplicas)) }}
{{- $replicas = int $.Values.blueGreen.idleReplicas }}
{{- end }}
{{- $out = append $out (dict "name" (printf "%s-%s" $fullname $colour) "track" $colour "colour" $colour "image" $spec.image "version" ($spec.version | default "") "replicas" $replicas "hpa" (and $.Values.autoscaling.enabled (gt $replicas 0))) }}
{{- end }}
{{- end }}
{{- else }}
{{- $split := splitList " " (include "modelship-serving.replicaSplit" .) }}
{{- $canaryRunning := and .Values.canary.enabled (eq .Values.strategy "canary") }}
{{- $hpa := and .Values.autoscaling.enabled (not (and $canaryRunning (eq .Values.traffic.mode "replicas"))) }}
{{- $out = append $out (dict "name" (printf "%s-stable" $fullname) "track" "stable" "colour" "" "image" .Values.stable.image "version" (.Values.stable.version | default "") "replicas" (atoi (index $split 0)) "hpa" (and $hpa (gt (atoi (index $split 0)) 0))) }}
{{- if $canaryRunning }}
{{- $out = append $out (dict "name" (printf "%s-canary" $fullname) "track" "canary" "colour" "" "image" .Values.canary.image "version" (.Values.canary.version | default "") "replicas" (atoi (index $split 1)) "hpa" (and $hpa (gt (atoi (index $split 1)) 0))) }}
{{- end }}
{{- end }}
{{- range $d := $out }}
{{- if $d.hpa }}
{{- $_ := set $d "replicas" (atoi (include "modelship-serving.autoscaledReplicas" (dict "root" $ "name" $d.name))) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
modelship-serving.validate: checks the schema cannot express with a good message; the
schema already refuses most bad values before any template runs.
*/}}
{{- define "modelship-serving.validate" -}}
{{- if and .Values.canary.enabled (ne .Values.strategy "canary") }}
{{- fail (printf "canary.enabled is true but strategy is %q: a canary track exists only with strategy canary (blue-green releases use blueGreen.*)" .Values.strategy) }}
{{- end }}
{{- if and .Values.canary.enabled (not .Values.canary.image) }}
{{- fail "canary.enabled is true but canary.image is empty: set canary.image to repo:tag or repo@sha256:<digest>" }}
{{- end }}
{{- if and (ne .Values.strategy "blue-green") (not .Values.stable.image) }}
{{- fail (printf "stable.image is empty: strategy %s needs the stable image (repo:tag or repo@sha256:<digest>)" .Values.strategy) }}
{{- end }}
{{- if eq .Values.strategy "blue-green" }}
{{- $active := .Values.blueGreen.active }}
{{- if not (index .Values.blueGreen $active).image }}
{{- fail (printf "blueGreen.active is %q but blueGreen.%s.image is empty: the active colour needs an image" $active $active) }}
{{- end }}
{{- end }}
{{- $product := .Values.gpu.product | default "" | toString }}
{{- if or (gt (len $product) 63) (not (regexMatch "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$" $product)) }}
{{- fail (printf "gpu.product %q is not a valid node label value (at most 63 letters, digits, '-', '_' or '.', no spaces): use the exact value of the %s node label, e.g. NVIDIA-A100-SXM4-80GB" $product .Values.gpu.productLabel) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
