package serve

import (
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// exposure is the part of deploy/'s Ingress and NetworkPolicy that
// bounds who reaches the service, and with what.
type exposure struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		// Ingress
		IngressClassName string `yaml:"ingressClassName"`
		TLS              []struct {
			Hosts      []string `yaml:"hosts"`
			SecretName string   `yaml:"secretName"`
		} `yaml:"tls"`
		Rules []struct {
			Host string `yaml:"host"`
		} `yaml:"rules"`
		// NetworkPolicy
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From  []map[string]any `yaml:"from"`
			Ports []struct {
				Port string `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
		// Deployment
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// deploy/'s Ingress lets GitLab's biggest delivery through (ingress-nginx
// takes 1 MiB by default and answers 413, which counts against the hook),
// names its class and serves TLS for its host; its NetworkPolicy selects
// the Deployment's pods, opens the webhook port, and the health port only
// to a named source.
func TestDeployExposure(t *testing.T) {
	f, err := os.Open("../deploy/echoes-labels-serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	docs := map[string]exposure{}
	for {
		var e exposure
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		docs[e.Kind] = e
	}
	ing, pol, dep := docs["Ingress"], docs["NetworkPolicy"], docs["Deployment"]

	size := ing.Metadata.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
	mib, err := strconv.Atoi(strings.TrimSuffix(size, "m"))
	if err != nil || !strings.HasSuffix(size, "m") || int64(mib)<<20 < defaultConfig().maxBody {
		t.Errorf("proxy-body-size %q, want at least the %d MiB GitLab may send (e.g. 25m)", size, defaultConfig().maxBody>>20)
	}
	if ing.Spec.IngressClassName == "" {
		t.Error("the Ingress names no ingressClassName")
	}
	for _, r := range ing.Spec.Rules {
		covered := false
		for _, tls := range ing.Spec.TLS {
			covered = covered || (slices.Contains(tls.Hosts, r.Host) && tls.SecretName != "")
		}
		if !covered {
			t.Errorf("host %s has no TLS", r.Host)
		}
	}

	if len(pol.Spec.PodSelector.MatchLabels) == 0 {
		t.Fatal("no NetworkPolicy with a pod selector")
	}
	for k, v := range pol.Spec.PodSelector.MatchLabels {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the NetworkPolicy selects %s=%s, which the Deployment's pods do not have", k, v)
		}
	}
	if !slices.Contains(pol.Spec.PolicyTypes, "Ingress") {
		t.Error("the NetworkPolicy does not bound Ingress")
	}
	open := map[string][]map[string]any{}
	for _, rule := range pol.Spec.Ingress {
		for _, p := range rule.Ports {
			open[p.Port] = append(open[p.Port], rule.From...)
		}
	}
	if _, ok := open["http"]; !ok {
		t.Error("the NetworkPolicy does not let the webhook port (http) in")
	}
	if from, ok := open["health"]; !ok || len(from) == 0 {
		t.Errorf("the health port: allowed %v from %v, want only from a named source", ok, from)
	}
	if len(open) != 2 {
		t.Errorf("ports opened %v, want http and health", open)
	}
}
