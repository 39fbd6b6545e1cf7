// Command fakegitlab is a stand-in GitLab for the end-to-end test of the CI
// component: it serves GET /api/v4/projects/:id/merge_requests/:iid on a
// loopback address, with a real answer's shape and the labels chosen per
// IID on the command line. It refuses to listen anywhere but loopback and
// stops by itself after -lifetime.
//
//	fakegitlab -addr-file addr -mr 1= -mr 2=echoes/intent/feature,echoes/effort/M -status 3=503
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed testdata/merge_request.json
var fixture []byte

type mrFlags map[int64][]string

func (m mrFlags) String() string { return fmt.Sprint(map[int64][]string(m)) }

func (m mrFlags) Set(s string) error {
	iid, labels, ok := strings.Cut(s, "=")
	n, err := strconv.ParseInt(iid, 10, 64)
	if !ok || err != nil || n <= 0 {
		return fmt.Errorf("want IID=label,label (labels may be empty), got %q", s)
	}
	m[n] = []string{}
	for _, l := range strings.Split(labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			m[n] = append(m[n], l)
		}
	}
	return nil
}

type statusFlags map[int64]int

func (m statusFlags) String() string { return fmt.Sprint(map[int64]int(m)) }

func (m statusFlags) Set(s string) error {
	iid, code, ok := strings.Cut(s, "=")
	n, err1 := strconv.ParseInt(iid, 10, 64)
	c, err2 := strconv.Atoi(code)
	if !ok || err1 != nil || err2 != nil || c < 400 || c > 599 {
		return fmt.Errorf("want IID=HTTP status 400-599, got %q", s)
	}
	m[n] = c
	return nil
}

func main() {
	mrs, statuses := mrFlags{}, statusFlags{}
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	addrFile := flag.String("addr-file", "", "write the address listened on to this file")
	lifetime := flag.Duration("lifetime", 10*time.Minute, "stop after this long")
	acceptJobToken := flag.Bool("accept-job-token", false, "answer requests with a JOB-TOKEN (gitlab.com refuses it for merge requests)")
	flag.Var(mrs, "mr", "IID=label,label: a merge request and its labels (repeat)")
	flag.Var(statuses, "status", "IID=code: answer this merge request with an HTTP error (repeat)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("fakegitlab: -addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("fakegitlab: -addr %q is not a loopback address; use 127.0.0.1:PORT", *addr)
	}
	var base map[string]any
	if err := json.Unmarshal(fixture, &base); err != nil {
		log.Fatalf("fakegitlab: fixture: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("fakegitlab: listen: %v", err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatalf("fakegitlab: %v", err)
		}
	}
	var calls atomic.Int64
	srv := &http.Server{
		Handler:           handler(base, mrs, statuses, *acceptJobToken, &calls),
		ReadHeaderTimeout: 5 * time.Second,
	}
	time.AfterFunc(*lifetime, func() {
		log.Printf("fakegitlab: lifetime %s over after %d calls; stopping", *lifetime, calls.Load())
		os.Exit(0)
	})
	log.Printf("fakegitlab: listening on http://%s/api/v4", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("fakegitlab: %v", err)
	}
}

var mrPath = regexp.MustCompile(`^/api/v4/projects/([^/]+)/merge_requests/([0-9]+)$`)

func handler(base map[string]any, mrs mrFlags, statuses statusFlags, acceptJobToken bool, calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		auth := "none"
		switch {
		case r.Header.Get("PRIVATE-TOKEN") != "":
			auth = "PRIVATE-TOKEN"
		case r.Header.Get("JOB-TOKEN") != "":
			auth = "JOB-TOKEN"
		}
		// Log the kind of credential, never its value.
		log.Printf("fakegitlab: %s %s (%s)", r.Method, r.URL.EscapedPath(), auth)
		m := mrPath.FindStringSubmatch(r.URL.EscapedPath())
		if r.Method != http.MethodGet || m == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "404 Not Found"})
			return
		}
		if auth == "none" || (auth == "JOB-TOKEN" && !acceptJobToken) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "401 Unauthorized"})
			return
		}
		iid, _ := strconv.ParseInt(m[2], 10, 64)
		if code, ok := statuses[iid]; ok {
			writeJSON(w, code, map[string]any{"message": fmt.Sprintf("%d %s", code, http.StatusText(code))})
			return
		}
		labels, ok := mrs[iid]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "404 Not found"})
			return
		}
		mr := make(map[string]any, len(base))
		for k, v := range base {
			mr[k] = v
		}
		mr["iid"] = iid
		mr["reference"] = fmt.Sprintf("!%d", iid)
		mr["labels"] = labels
		if id, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			mr["project_id"], mr["source_project_id"], mr["target_project_id"] = id, id, id
		}
		mr["web_url"] = fmt.Sprintf("http://%s/demo/-/merge_requests/%d", r.Host, iid)
		writeJSON(w, http.StatusOK, mr)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
