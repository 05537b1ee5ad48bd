{{/*
Names. The fullname is also the name of the Service, of both webhook
configurations and the prefix of every other object.
*/}}
{{- define "hostprocess-admission.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hostprocess-admission.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hostprocess-admission.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hostprocess-admission.labels" -}}
helm.sh/chart: {{ include "hostprocess-admission.chart" . }}
{{ include "hostprocess-admission.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hostprocess-admission.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hostprocess-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "hostprocess-admission.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hostprocess-admission.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding tls.crt and tls.key (and, when self-managed, the CA). */}}
{{- define "hostprocess-admission.certSecretName" -}}
{{- if eq .Values.certificates.mode "external" }}
{{- required "certificates.external.secretName is required when certificates.mode is external" .Values.certificates.external.secretName }}
{{- else }}
{{- printf "%s-cert" (include "hostprocess-admission.fullname" .) }}
{{- end }}
{{- end }}

{{- define "hostprocess-admission.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
clientConfig of every webhook: the Service, and for the external mode the
CA bundle the operator gave. selfManaged leaves caBundle to the webhook
(it writes it, and helm upgrade leaves it alone since the chart never sets
it); certManager leaves it to cert-manager's CA injector.
*/}}
{{- define "hostprocess-admission.clientConfig" -}}
{{- $ctx := index . 0 }}
{{- $path := index . 1 -}}
service:
  name: {{ include "hostprocess-admission.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  path: {{ $path }}
  port: 443
{{- if eq $ctx.Values.certificates.mode "external" }}
caBundle: {{ required "certificates.external.caBundle is required when certificates.mode is external" $ctx.Values.certificates.external.caBundle | quote }}
{{- end }}
{{- end }}

{{- define "hostprocess-admission.webhookAnnotations" -}}
{{- if eq .Values.certificates.mode "certManager" }}
cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "hostprocess-admission.fullname" . }}-serving
{{- end }}
{{- end }}

{{/*
namespaceSelector of every webhook: never the release namespace (the
webhook must not depend on itself; kubernetes.io/metadata.name is set by the
API server and cannot be forged), never the extra excluded namespaces, and
never a namespace labelled with the opt-out label. Labelling namespaces needs
"update" or "patch" on the cluster-scoped Namespace resource: grant it to
cluster admins only.
*/}}
{{- define "hostprocess-admission.namespaceSelector" -}}
matchExpressions:
- key: kubernetes.io/metadata.name
  operator: NotIn
  values:
  {{- range (prepend .Values.webhook.excludedNamespaces .Release.Namespace | uniq) }}
  - {{ . | quote }}
  {{- end }}
- key: {{ .Values.webhook.optOutLabel.key | quote }}
  operator: NotIn
  values:
  - {{ .Values.webhook.optOutLabel.value | quote }}
{{- end }}

{{/*
CEL. "hostprocess-admission.cel.hostProcess" takes the CEL path of a pod spec
that is known to exist and is true when the pod level, or any init, regular
or ephemeral container, sets securityContext.windowsOptions.hostProcess to
true. Every field on the way is guarded with has(): a matchCondition that
fails to evaluate would take the webhook's failurePolicy (Fail for pods), so
no pod may make it fail.
*/}}
{{- define "hostprocess-admission.cel.containerHostProcess" -}}
has(c.securityContext) && has(c.securityContext.windowsOptions) && has(c.securityContext.windowsOptions.hostProcess) && c.securityContext.windowsOptions.hostProcess == true
{{- end }}

{{- define "hostprocess-admission.cel.hostProcess" -}}
{{- $s := . -}}
{{- $c := include "hostprocess-admission.cel.containerHostProcess" nil -}}
(has({{ $s }}.securityContext) && has({{ $s }}.securityContext.windowsOptions) && has({{ $s }}.securityContext.windowsOptions.hostProcess) && {{ $s }}.securityContext.windowsOptions.hostProcess == true) || (has({{ $s }}.containers) && {{ $s }}.containers.exists(c, {{ $c }})) || (has({{ $s }}.initContainers) && {{ $s }}.initContainers.exists(c, {{ $c }})) || (has({{ $s }}.ephemeralContainers) && {{ $s }}.ephemeralContainers.exists(c, {{ $c }}))
{{- end }}

{{/*
Pods: the pod's own spec. For pods/ephemeralcontainers, object is the pod with
its new ephemeral containers. Host network is tested first: it is the
cheapest test and false for nearly every ordinary pod, and the API server's
validation refuses any pod with a HostProcess container and no host network
("hostNetwork must be true if pod contains any hostProcess containers", on
create, update and pods/ephemeralcontainers; tested in internal/charttest).
*/}}
{{- define "hostprocess-admission.cel.podIsHostProcess" -}}
has(object.spec) && has(object.spec.hostNetwork) && object.spec.hostNetwork == true && ({{ include "hostprocess-admission.cel.hostProcess" "object.spec" }})
{{- end }}

{{/*
The annotations the policy reads (policy.RuntimeAnnotations; a chart test
checks the list): the kubelet passes a pod's current annotations to the
runtime each time it creates the pod's sandbox.
*/}}
{{- define "hostprocess-admission.cel.runtimeAnnotations" -}}
['microsoft.com/hostprocess-inherit-user', 'microsoft.com/hostprocess-rootfs-location']
{{- end }}

{{/*
Pod UPDATEs, through the pod or its status or ephemeralcontainers
subresources, reach the webhook only when they change a field the policy reads
(docs/policy.md, "Updates"): a container list (an image, a debug container),
nodeSelector or node affinity (which a scheduling-gated pod's owner may add
to), or a runtime annotation. Relabelling, other annotations, finalizers,
tolerations, scheduling gates and status then never depend on the webhook
being up. Status updates keep the old spec, so only annotations can differ.
*/}}
{{- define "hostprocess-admission.cel.podChangesPolicyFields" -}}
{{- $ann := include "hostprocess-admission.cel.runtimeAnnotations" nil -}}
request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || (has(object.spec.containers) ? object.spec.containers : []) != (has(oldObject.spec.containers) ? oldObject.spec.containers : []) || (has(object.spec.initContainers) ? object.spec.initContainers : []) != (has(oldObject.spec.initContainers) ? oldObject.spec.initContainers : []) || (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []) != (has(oldObject.spec.ephemeralContainers) ? oldObject.spec.ephemeralContainers : []) || (has(object.spec.nodeSelector) ? object.spec.nodeSelector : {}) != (has(oldObject.spec.nodeSelector) ? oldObject.spec.nodeSelector : {}) || has(object.spec.affinity) != has(oldObject.spec.affinity) || (has(object.spec.affinity) && object.spec.affinity != oldObject.spec.affinity) || {{ $ann }}.exists(k, (has(object.metadata.annotations) && k in object.metadata.annotations ? object.metadata.annotations[k] : '') != (has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations ? oldObject.metadata.annotations[k] : ''))
{{- end }}

{{/*
A Binding (pods/binding) does not show its pod; the API server merges its
annotations into the pod. One that carries a runtime annotation reaches the
webhook, which judges it by them (policy.EvaluateBinding). The scheduler's
Bindings carry none.
*/}}
{{- define "hostprocess-admission.cel.bindingSetsRuntimeAnnotations" -}}
has(object.metadata.annotations) && {{ include "hostprocess-admission.cel.runtimeAnnotations" nil }}.exists(k, k in object.metadata.annotations)
{{- end }}

{{/*
The validating pod webhook's one condition: a Binding with a runtime
annotation, or a HostProcess pod, created or with a field the policy reads
changed. One expression rather than two conditions, because the API server
evaluates every condition of a webhook before it looks at the results, and &&
stops at the first part that is false. Validating webhooks run after the API
server's validation, so the host network test leaves out no pod this webhook
could see.
*/}}
{{- define "hostprocess-admission.cel.validatePod" -}}
has(request.subResource) && request.subResource == 'binding' ? ({{ include "hostprocess-admission.cel.bindingSetsRuntimeAnnotations" . }}) : {{ include "hostprocess-admission.cel.podIsHostProcess" . }} && ({{ include "hostprocess-admission.cel.podChangesPolicyFields" . }})
{{- end }}

{{/*
The defaults a pod lacks, as policy.Default decides them from config.defaults:
kubernetes.io/os is constrained by neither nodeSelector nor an expression of a
required node affinity term, or a configured toleration is missing (same key,
operator with "" meaning Equal, value, effect and tolerationSeconds). Strings
are written with toJson, whose escapes CEL reads the same. "false" when
nothing is defaulted.
*/}}
{{- define "hostprocess-admission.cel.podLacksDefaults" -}}
{{- $d := .Values.config.defaults | default dict -}}
{{- $parts := list -}}
{{- if ne (toString $d.nodeSelector) "false" -}}
{{- $parts = append $parts "!((has(object.spec.nodeSelector) && 'kubernetes.io/os' in object.spec.nodeSelector) || (has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) && has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms) && object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.exists(t, has(t.matchExpressions) && t.matchExpressions.exists(r, r.key == 'kubernetes.io/os'))))" -}}
{{- end -}}
{{- range $d.tolerations -}}
{{- $secs := "!has(h.tolerationSeconds)" -}}
{{- if hasKey . "tolerationSeconds" -}}
{{- $secs = printf "has(h.tolerationSeconds) && h.tolerationSeconds == %d" (int64 .tolerationSeconds) -}}
{{- end -}}
{{- $parts = append $parts (printf "!(has(object.spec.tolerations) && object.spec.tolerations.exists(h, (has(h.key) ? h.key : '') == %s && (has(h.operator) && h.operator != '' ? h.operator : 'Equal') == %s && (has(h.value) ? h.value : '') == %s && (has(h.effect) ? h.effect : '') == %s && %s))" (toJson (.key | default "")) (toJson (.operator | default "Equal")) (toJson (.value | default "")) (toJson (.effect | default "")) $secs) -}}
{{- end -}}
{{- if $parts }}{{ join " || " $parts }}{{ else }}false{{ end -}}
{{- end }}

{{/*
The mutating webhook's one condition: a HostProcess pod, lacking a default
(webhook.skipDefaultedPods, unless the local-group node affinity is
defaulted, which depends on the namespace's rules). Mutating webhooks run
before validation: a pod without host network that is not called here is
refused by validation, unless a later mutating webhook sets host network, and
the API server reinvokes only webhooks it called (docs/install.md).
*/}}
{{- define "hostprocess-admission.cel.mutatePod" -}}
{{- $d := .Values.config.defaults | default dict -}}
{{ include "hostprocess-admission.cel.podIsHostProcess" . }}
{{- if and .Values.webhook.skipDefaultedPods (not $d.localGroupNodeAffinity) }} && ({{ include "hostprocess-admission.cel.podLacksDefaults" . }}){{ end }}
{{- end }}

{{/*
Workloads: the pod template at spec.jobTemplate.spec.template.spec for
CronJobs, template.spec for PodTemplates and spec.template.spec for the rest
(Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs,
ReplicationControllers, whose template is optional).
*/}}
{{- define "hostprocess-admission.cel.workloadIsHostProcess" -}}
request.resource.resource == 'cronjobs' ? (has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.template) && has(object.spec.jobTemplate.spec.template.spec) && ({{ include "hostprocess-admission.cel.hostProcess" "object.spec.jobTemplate.spec.template.spec" }})) : request.resource.resource == 'podtemplates' ? (has(object.template) && has(object.template.spec) && ({{ include "hostprocess-admission.cel.hostProcess" "object.template.spec" }})) : (has(object.spec) && has(object.spec.template) && has(object.spec.template.spec) && ({{ include "hostprocess-admission.cel.hostProcess" "object.spec.template.spec" }}))
{{- end }}

{{/*
Workload UPDATEs reach the webhook only when the pod template changes, so
that controllers' own updates (the Deployment controller's revision
annotation, scaling, labels) never depend on the webhook.
*/}}
{{- define "hostprocess-admission.cel.workloadChangesTemplate" -}}
request.operation != 'UPDATE' || (request.resource.resource == 'cronjobs' ? (!has(oldObject.spec) || !has(oldObject.spec.jobTemplate) || !has(object.spec) || !has(object.spec.jobTemplate) || object.spec.jobTemplate != oldObject.spec.jobTemplate) : request.resource.resource == 'podtemplates' ? (!has(oldObject.template) || !has(object.template) || object.template != oldObject.template) : (!has(oldObject.spec) || !has(oldObject.spec.template) || !has(object.spec) || !has(object.spec.template) || object.spec.template != oldObject.spec.template))
{{- end }}
