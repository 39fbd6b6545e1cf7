package serve

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// envNames are the variables Command reads, from its kong tags, those of
// the structs it embeds (settings.GitLab, settings.Rules) included.
func envNames(t *testing.T) []string {
	t.Helper()
	return envNamesOf(reflect.TypeFor[Command]())
}

// envNamesOf is every variable a command struct reads.
var envNamesOf = reruntest.EnvNames

// tagDefault is the default a Command field's kong tag gives (a field of
// an embedded struct too).
func tagDefault(t *testing.T, field string) string {
	f, ok := reflect.TypeFor[Command]().FieldByName(field)
	if !ok {
		t.Fatalf("Command has no field %s", field)
	}
	return f.Tag.Get("default")
}

type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas int            `yaml:"replicas"`
		Selector map[string]any `yaml:"selector"`
		Ports    []servicePort  `yaml:"ports"`
		Rules    []struct {
			HTTP struct {
				Paths []struct {
					Path     string `yaml:"path"`
					PathType string `yaml:"pathType"`
					Backend  struct {
						Service struct {
							Name string `yaml:"name"`
							Port struct {
								Name string `yaml:"name"`
							} `yaml:"port"`
						} `yaml:"service"`
					} `yaml:"backend"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    int   `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env            []reruntest.EnvVar `yaml:"env"`
	ReadinessProbe *probe             `yaml:"readinessProbe"`
	LivenessProbe  *probe             `yaml:"livenessProbe"`
	Resources      struct {
		Limits   map[string]string `yaml:"limits"`
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
}

// The example manifest under deploy/ runs what this package serves: the
// serve command, on the default port, non-root, its secrets from a Secret,
// every variable one the command reads, probes on a path the service answers.
func TestDeployManifest(t *testing.T) {
	f, err := os.Open("../deploy/echoes-labels-serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	docs := map[string]manifest{}
	for {
		var m manifest
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deploy/echoes-labels-serve.yaml: %v", err)
		}
		docs[m.Kind] = m
	}
	dep, ok := docs["Deployment"]
	svcDoc, ok2 := docs["Service"]
	ing, ok3 := docs["Ingress"]
	if !ok || !ok2 || !ok3 || len(docs) != 4 {
		t.Fatalf("kinds %v, want a Deployment, a Service, an Ingress and a NetworkPolicy (deploy_attack_test.go)", slices.Collect(func(yield func(string) bool) {
			for k := range docs {
				if !yield(k) {
					return
				}
			}
		}))
	}
	pod := dep.Spec.Template.Spec
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Error("the pod must run as non-root (runAsNonRoot: true, a non-zero runAsUser)")
	}
	// Kubernetes sends SIGTERM, then SIGKILL after the grace period: it
	// must exceed the shutdown delay, the 2 s to stop accepting and the
	// 20 s drain.
	stopping := defaultConfig().shutdownDelay + 2*time.Second + defaultConfig().drain
	if pod.TerminationGracePeriodSeconds <= int(stopping.Seconds()) {
		t.Errorf("terminationGracePeriodSeconds %d, want more than %s (shutdown delay, stop accepting, drain)", pod.TerminationGracePeriodSeconds, stopping)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Command, []string{"echoes-labels", "serve"}) || !strings.HasPrefix(c.Image, "registry.gitlab.com/echoeshq/echoes-labels:") {
		t.Errorf("container runs %q %q, want echoes-labels serve from the project's image", c.Image, c.Command)
	}
	// Two ports: http (--listen, the webhook) and health (--health-listen,
	// the probes), each the port its variable gives.
	_, port, _ := net.SplitHostPort(tagDefault(t, "Listen"))
	ports := map[string]string{}
	for _, p := range c.Ports {
		ports[p.Name] = strconv.Itoa(p.ContainerPort)
	}
	healthListen := ""
	for _, e := range c.Env {
		if e.Name == "ECHOES_HEALTH_LISTEN" {
			healthListen = e.Value
		}
	}
	_, healthPort, _ := net.SplitHostPort(healthListen)
	if len(c.Ports) != 2 || ports["http"] != port || healthPort == "" || ports["health"] != healthPort {
		t.Errorf("container ports %+v, want http %s (the --listen default) and health, ECHOES_HEALTH_LISTEN's port (%q)", c.Ports, port, healthListen)
	}
	known := envNames(t)
	secrets := map[string]bool{}
	for _, e := range c.Env {
		if !slices.Contains(known, e.Name) {
			t.Errorf("env %s is not a variable echoes-labels serve reads (%v)", e.Name, known)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secrets[e.Name] = true
		}
		if e.Name == "ECHOES_LISTEN" && e.Value != tagDefault(t, "Listen") {
			t.Errorf("ECHOES_LISTEN %q, want %q", e.Value, tagDefault(t, "Listen"))
		}
	}
	if !secrets["ECHOES_GITLAB_TOKEN"] || !secrets["ECHOES_WEBHOOK_SECRET"] {
		t.Errorf("the token and the webhook secret must come from a Secret; from Secrets: %v", secrets)
	}
	if c.Resources.Limits["memory"] == "" || c.Resources.Limits["cpu"] == "" {
		t.Errorf("resource limits %v, want cpu and memory", c.Resources.Limits)
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}

	// Liveness on /livez: 200 without GitLab. Readiness on /readyz: 503
	// until GitLab accepted the token, 200 then, 503 again once stopping.
	gl := newStandIn(t)
	s, err := newService(testConfig(gl), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	probeCode := func(p *probe) int {
		rec := httptest.NewRecorder()
		s.healthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.HTTPGet.Path, nil))
		return rec.Code
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Fatal("the container needs a liveness and a readiness probe")
	}
	for name, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p.HTTPGet.Port != "health" {
			t.Errorf("%s probe port %q, want the container port \"health\" (--health-listen)", name, p.HTTPGet.Port)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != pathLivez || probeCode(c.LivenessProbe) != http.StatusOK {
		t.Errorf("liveness probe GET %s: %d, want 200 on %s", c.LivenessProbe.HTTPGet.Path, probeCode(c.LivenessProbe), pathLivez)
	}
	if c.ReadinessProbe.HTTPGet.Path != pathReadyz {
		t.Errorf("readiness probe on %s, want %s", c.ReadinessProbe.HTTPGet.Path, pathReadyz)
	}
	if code := probeCode(c.ReadinessProbe); code != http.StatusServiceUnavailable {
		t.Errorf("readiness before GitLab accepted the token: %d, want 503", code)
	}
	s.startedOK.Store(true)
	if code := probeCode(c.ReadinessProbe); code != http.StatusOK {
		t.Errorf("readiness once GitLab accepted the token: %d, want 200", code)
	}
	s.draining.Store(true)
	if code := probeCode(c.ReadinessProbe); code != http.StatusServiceUnavailable || probeCode(c.LivenessProbe) != http.StatusOK {
		t.Errorf("stopping: readiness %d, liveness %d, want 503 and 200", code, probeCode(c.LivenessProbe))
	}
	if gl.Count() != 0 {
		t.Error("a probe called GitLab")
	}

	// The Ingress exposes /webhook only, to the Service's port.
	if len(svcDoc.Spec.Ports) != 1 {
		t.Fatalf("Service ports %+v, want one", svcDoc.Spec.Ports)
	}
	var paths []string
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
			if p.PathType != "Exact" || p.Backend.Service.Name != svcDoc.Metadata.Name || p.Backend.Service.Port.Name != svcDoc.Spec.Ports[0].Name {
				t.Errorf("Ingress path %s: type %s, backend %+v, want Exact to the Service %s port %s", p.Path, p.PathType, p.Backend,
					svcDoc.Metadata.Name, svcDoc.Spec.Ports[0].Name)
			}
		}
	}
	if !slices.Equal(paths, []string{pathWebhook}) {
		t.Errorf("the Ingress exposes %v, want %s only (not %s, %s)", paths, pathWebhook, pathMetrics, pathReadyz)
	}

	if len(svcDoc.Spec.Ports) != 1 || svcDoc.Spec.Ports[0].TargetPort != "http" || ports["http"] != "8080" {
		t.Errorf("Service ports %+v, want one targeting \"http\", the container's 8080", svcDoc.Spec.Ports)
	}
	if svcDoc.Metadata.Name == "" || dep.Spec.Replicas < 1 {
		t.Error("the Service needs a name and the Deployment a replica")
	}
}
