// Command hello is the floor bench/run.sh compares an offline check with: a
// Go program that prints one line, built with the release's flags
// (CGO_ENABLED=0 go build -trimpath -ldflags '-s -w'), so that the ratio
// leaves out what any Go binary costs to start on the machine at hand.
package main

import "fmt"

func main() {
	fmt.Println("hello, world")
}
