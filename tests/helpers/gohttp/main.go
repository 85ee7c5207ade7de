// Test helper: a real Go HTTP server and client, to show Go programs follow GODEBUG=multipathtcp
// as the wrapper sets it (Go makes its own sockets, so LD_PRELOAD cannot reach it).
//
// usage: gohttp serve ADDR      serve "hello from go" on ADDR until killed
//        gohttp get URL         fetch URL and print the body
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gohttp serve ADDR | gohttp get URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello from go")
		})
		fmt.Fprintln(os.Stderr, http.ListenAndServe(os.Args[2], handler))
		os.Exit(1)
	case "get":
		resp, err := http.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	default:
		os.Exit(2)
	}
}
