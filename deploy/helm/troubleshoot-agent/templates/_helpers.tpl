{{/* Labels of the shared objects (kustomize's base adds the same). */}}
{{- define "troubleshoot-agent.labels" -}}
app.kubernetes.io/name: troubleshoot-agent
app.kubernetes.io/part-of: troubleshoot-agent
{{- end }}

{{/* Labels of the workload, its selector and its pods. */}}
{{- define "troubleshoot-agent.selector" -}}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/name: troubleshoot-agent
{{- end }}

{{- define "troubleshoot-agent.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
