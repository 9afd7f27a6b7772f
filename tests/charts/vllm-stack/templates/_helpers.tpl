{{/* Labels every engine object of model $m carries: model, helm-release-name, servingEngineSpec.labels, model labels. */}}
{{- define "vllmstack.engineLabels" -}}
{{- $root := index . 0 -}}{{- $m := index . 1 -}}
model: {{ $m.name | quote }}
helm-release-name: {{ $root.Release.Name | quote }}
{{- range $k, $v := $root.Values.servingEngineSpec.labels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- range $k, $v := ($m.labels | default dict) }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}

{{- define "vllmstack.engineSelector" -}}
{{- $root := index . 0 -}}{{- $m := index . 1 -}}
model: {{ $m.name | quote }}
helm-release-name: {{ $root.Release.Name | quote }}
{{- end }}

{{- define "vllmstack.routerLabels" -}}
app.kubernetes.io/component: router
helm-release-name: {{ .Release.Name | quote }}
{{- range $k, $v := .Values.routerSpec.labels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}

{{/* A secretKeyRef for a value that is either an inline string (kept in R-secrets under key $inlineKey) or {secretName, secretKey}. */}}
{{- define "vllmstack.secretRef" -}}
{{- $root := index . 0 -}}{{- $val := index . 1 -}}{{- $inlineKey := index . 2 -}}
secretKeyRef:
{{- if kindIs "string" $val }}
  name: {{ printf "%s-secrets" $root.Release.Name | quote }}
  key: {{ $inlineKey | quote }}
{{- else }}
  name: {{ $val.secretName | quote }}
  key: {{ $val.secretKey | quote }}
{{- end }}
{{- end }}

{{/* The engines' labels as a comma-separated selector for the router's service discovery. */}}
{{- define "vllmstack.engineSelectorString" -}}
{{- $parts := list -}}
{{- range $k, $v := .Values.servingEngineSpec.labels -}}
{{- $parts = append $parts (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $parts -}}
{{- end }}
