// Command floor is the floor bench/startup.sh compares an online check
// with: a Go program that makes the check's one GET and decodes the labels
// from its JSON, nothing else (no flags, no retries, no report), built with
// the release's flags (CGO_ENABLED=0 go build -trimpath -ldflags '-s -w').
// It reads the variables a merge request pipeline sets, and exits 0 when an
// echoes/intent or echoes/initiative label is there, 1 when not, 3 when the
// call fails.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
)

func main() {
	url := os.Getenv("CI_API_V4_URL") + "/projects/" + os.Getenv("CI_MERGE_REQUEST_PROJECT_ID") +
		"/merge_requests/" + os.Getenv("CI_MERGE_REQUEST_IID")
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(3)
	}
	req.Header.Set("PRIVATE-TOKEN", os.Getenv("ECHOES_GITLAB_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(3)
	}
	defer resp.Body.Close()
	var mr struct {
		Labels []string `json:"labels"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&mr) != nil {
		fmt.Fprintln(os.Stderr, "floor: no merge request in the answer:", resp.Status)
		os.Exit(3)
	}
	for _, l := range mr.Labels {
		if strings.HasPrefix(l, "echoes/intent") || strings.HasPrefix(l, "echoes/initiative") {
			fmt.Println("pass:", l)
			return
		}
	}
	fmt.Println("fail: no intent or initiative label")
	os.Exit(1)
}
