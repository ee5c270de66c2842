package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/spf13/pflag"
)

// pprofAddress is the --pprof-address flag. Setting it starts the
// profiling endpoint at once, so that a profile also covers the start-up
// (tree load, log replay) and the server needs no other hook.
type pprofAddress struct {
	addr string
}

func (p *pprofAddress) String() string { return p.addr }

func (p *pprofAddress) Type() string { return "host:port" }

func (p *pprofAddress) Set(addr string) error {
	if p.addr != "" {
		return errors.New("given twice")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	p.addr = l.Addr().String()
	// Contention shows in the mutex and block profiles only when they are
	// sampled; a fraction keeps the cost small while profiling.
	runtime.SetMutexProfileFraction(10)
	runtime.SetBlockProfileRate(100_000) // one sample per 100 µs blocked
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(l, mux)
	return nil
}

// pprofFlag adds --pprof-address to the server's flags.
func pprofFlag(fs *pflag.FlagSet) {
	fs.Var(&pprofAddress{}, "pprof-address", "host:port serving Go's net/http/pprof profiles; empty means none (for benchmarks, not for production)")
}
