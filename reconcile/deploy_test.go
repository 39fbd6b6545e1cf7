package reconcile

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// container is the part of a manifest's container checked here.
type container struct {
	Command []string           `yaml:"command"`
	Env     []reruntest.EnvVar `yaml:"env"`
}

// manifest is the part of a serve manifest's document checked here.
type manifest struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// envNamesOf is every variable a command struct reads.
var envNamesOf = reruntest.EnvNames

// cronJob is the part of deploy/echoes-labels-reconcile.yaml checked here.
type cronJob struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Schedule          string `yaml:"schedule"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				Template struct {
					Spec struct {
						SecurityContext struct {
							RunAsNonRoot *bool `yaml:"runAsNonRoot"`
						} `yaml:"securityContext"`
						Containers []container `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

// One sweeper (issue 14): the serve replicas sweep nothing, and one
// CronJob, never two at once, runs echoes-labels reconcile with variables
// that command reads and the token from the Secret.
func TestDeployHasOneSweeper(t *testing.T) {
	b, err := os.ReadFile("../deploy/echoes-labels-reconcile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cj cronJob
	if err := yaml.Unmarshal(b, &cj); err != nil {
		t.Fatal(err)
	}
	if cj.Kind != "CronJob" || cj.Spec.ConcurrencyPolicy != "Forbid" || cj.Spec.Schedule == "" {
		t.Fatalf("kind %q, concurrencyPolicy %q, schedule %q: want a CronJob that forbids overlapping runs", cj.Kind, cj.Spec.ConcurrencyPolicy, cj.Spec.Schedule)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || len(pod.Containers) != 1 {
		t.Fatal("want one non-root container")
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Command, []string{"echoes-labels", "reconcile"}) {
		t.Errorf("command %q, want echoes-labels reconcile", c.Command)
	}
	known := envNamesOf(reflect.TypeFor[Command]())
	vars := map[string]bool{}
	for _, e := range c.Env {
		if !slices.Contains(known, e.Name) {
			t.Errorf("env %s is not a variable echoes-labels reconcile reads (%v)", e.Name, known)
		}
		vars[e.Name] = e.ValueFrom == nil || e.ValueFrom.SecretKeyRef != nil
	}
	if !vars["ECHOES_WATCH"] || !vars["ECHOES_GITLAB_TOKEN"] {
		t.Errorf("want ECHOES_WATCH and the token from a Secret; got %v", vars)
	}

	// And the replicas of serve leave the sweep to it.
	f, err := os.ReadFile("../deploy/echoes-labels-serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(f))
	for {
		var m manifest
		if dec.Decode(&m) != nil {
			break
		}
		if m.Kind != "Deployment" {
			continue
		}
		for _, e := range m.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "ECHOES_RECONCILE_INTERVAL" && e.Value == "0" {
				return
			}
		}
		t.Error("the serve Deployment must set ECHOES_RECONCILE_INTERVAL=0: the CronJob is the one sweeper")
		return
	}
	t.Error("no Deployment in deploy/echoes-labels-serve.yaml")
}
