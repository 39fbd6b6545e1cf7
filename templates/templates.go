// Package templates holds the GitLab CI/CD component that runs echoes-labels
// in a merge request pipeline, embedded so tests and tools read the very
// bytes that are published.
package templates

import _ "embed"

// Component is templates/echoes-labels.yml: a spec: inputs: header, "---",
// then the job.
//
//go:embed echoes-labels.yml
var Component []byte

// ComponentName is the name users include it by:
// $CI_SERVER_FQDN/<project path>/echoes-labels@<version>.
const ComponentName = "echoes-labels"

// ReconcileComponent is templates/echoes-labels-reconcile.yml: the scheduled
// pipeline's job that runs `echoes-labels reconcile`.
//
//go:embed echoes-labels-reconcile.yml
var ReconcileComponent []byte

// ReconcileComponentName is the name users include it by.
const ReconcileComponentName = "echoes-labels-reconcile"
