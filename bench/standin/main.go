// Command standin serves one merge request on 127.0.0.1 as GitLab would,
// for bench/run.sh: the stand-in GitLab of the tests (internal/gitlabtest)
// as a process of its own, so both tools measured talk to the same server.
//
// It prints its API root on the first line of stdout, then serves until
// killed. GET /_count answers how many API requests it has served since
// the last GET /_reset.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

func main() {
	token := flag.String("token", "", "the only PRIVATE-TOKEN accepted (empty: any)")
	project := flag.Int64("project", 42, "project id")
	path := flag.String("path", "group/project", "project path")
	iid := flag.Int64("iid", 7, "merge request IID")
	labels := flag.String("labels", "echoes/intent/feature,backend", "the merge request's labels, comma-separated")
	noise := flag.Int("noise", 0, "add this many unrelated labels before them")
	flag.Parse()

	var ls []string
	for i := 0; i < *noise; i++ {
		ls = append(ls, fmt.Sprintf("team/backend/component-%d", i))
	}
	ls = append(ls, strings.Split(*labels, ",")...)

	srv := gitlabtest.NewUnstarted()
	srv.SetToken(*token)
	srv.SetLabels(*project, *path, *iid, ls...)
	var served atomic.Int64
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		switch r.URL.Path {
		case "/_count":
			fmt.Fprintln(w, served.Load())
			return true
		case "/_reset":
			served.Store(0)
			return true
		}
		served.Add(1)
		return false
	})
	srv.Start() // on 127.0.0.1, a free port
	defer srv.Close()
	fmt.Println(srv.APIURL())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
