{{/*
Name of the chart (nameOverride or the chart's name), at most 63 characters.
*/}}
{{- define "tcpulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: fullnameOverride, or the release name
with the chart name appended unless it already contains it.
*/}}
{{- define "tcpulse.fullname" -}}
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

{{/*
Namespace of every resource.
*/}}
{{- define "tcpulse.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
chart label: name-version.
*/}}
{{- define "tcpulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable over upgrades (a DaemonSet's selector is immutable).
*/}}
{{- define "tcpulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tcpulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels of every resource.
*/}}
{{- define "tcpulse.labels" -}}
helm.sh/chart: {{ include "tcpulse.chart" . }}
{{ include "tcpulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: tcpulse
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image: [registry/]repository[:tag][@digest]; the tag defaults to the appVersion.
*/}}
{{- define "tcpulse.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.image.registry) .Values.image.repository }}
{{- end }}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" $repo $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "tcpulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tcpulse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Prometheus job label of the agent's targets: what a ServiceMonitor gives
them (the Service's name, or the value of its jobLabel label).
*/}}
{{- define "tcpulse.job" -}}
{{- if and .Values.serviceMonitor.jobLabel (hasKey .Values.service.labels .Values.serviceMonitor.jobLabel) }}
{{- index .Values.service.labels .Values.serviceMonitor.jobLabel }}
{{- else }}
{{- include "tcpulse.fullname" . }}
{{- end }}
{{- end }}

{{/*
The agent's config file (YAML): .Values.config with .Values.extraConfig
merged over it; keys are the agent's (src/config.ts). listen always comes
from metrics.host/port (the probes and the Service depend on it).
*/}}
{{- define "tcpulse.config" -}}
{{- $c := mergeOverwrite (deepCopy .Values.config) (deepCopy .Values.extraConfig) }}
{{- $host := .Values.metrics.host | toString }}
{{- if contains ":" $host }}
{{- $host = printf "[%s]" $host }}
{{- end }}
{{- $_ := set $c "listen" (printf "%s:%d" $host (int .Values.metrics.port)) }}
{{- toYaml $c }}
{{- end }}

{{/*
Capabilities added to the non-privileged container.
*/}}
{{- define "tcpulse.capabilities" -}}
{{- concat .Values.securityContext.capabilities.add .Values.securityContext.extraCapabilities | uniq | toYaml }}
{{- end }}
