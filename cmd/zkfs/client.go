package main

// The client subcommands (ls, get, create, ...) mirror zkCli.sh: same
// names, same flags, same output on the same streams, same error lines, so
// that people's habits and scripts carry over. Where zkfs differs it says so
// in the command's help: errors are always one line and exit 1, usage errors
// exit 2, -w waits for its watch to fire, and data can come from standard
// input.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/wire"
	"zkfs/zkclient"
)

const (
	// defaultServer is zkCli.sh's default server.
	defaultServer = "127.0.0.1:2181"
	// envServer names the environment variable that replaces it.
	envServer = "ZKFS_SERVER"
	// sessionTimeout is long enough to ride out a leader election, short
	// enough that a crashed `zkfs create -e` does not leave its node for long.
	sessionTimeout = 10 * time.Second
	// connectTimeout bounds how long a command looks for a server before it
	// gives up with "cannot connect".
	connectTimeout = 5 * time.Second
)

// clientOptions are the flags every client subcommand takes.
type clientOptions struct {
	server   string
	auth     []string
	authFile string
	tls      tlsOptions
	// command is what follows "--", for the subcommands that run one.
	command []string
	// sessionTimeout overrides the default session timeout when set.
	sessionTimeout time.Duration
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// keeperError is a failed ZooKeeper operation on path, printed as zkCli.sh
// prints it.
type keeperError struct {
	path string
	err  error
}

func (e *keeperError) Error() string {
	if code, ok := zkclient.Code(e.err); ok {
		return wire.CLIMessage(code, e.path)
	}
	return e.err.Error()
}

func (e *keeperError) Unwrap() error { return e.err }

// onPath wraps a non-nil err from an operation on path.
func onPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return &keeperError{path: path, err: err}
}

// messageError is an error whose text is exactly what to print.
type messageError struct{ msg string }

func (e *messageError) Error() string { return e.msg }

// command describes one client subcommand.
type command struct {
	name     string
	synopsis string // arguments, as in zkCli.sh's help
	help     string // what it does and how it differs from zkCli.sh
	// minArgs and maxArgs bound the positional arguments.
	minArgs, maxArgs int
	// setup declares the subcommand's own flags and returns the function
	// that runs it, which reads them once parsed.
	setup func(fs *pflag.FlagSet) runFunc
	// takesCommand allows "-- COMMAND [ARGS]" after the arguments; see
	// client_run.go. wrapper says the subcommand always runs one, so that
	// its own failures, usage errors included, exit 125.
	takesCommand, wrapper bool
}

// runFunc runs a subcommand on its positional arguments.
type runFunc func(o *clientOptions, args []string) error

// flagSet returns the subcommand's flags, the shared ones last, and its
// run function.
func (c *command) flagSet(o *clientOptions) (*pflag.FlagSet, runFunc) {
	fs := pflag.NewFlagSet("zkfs "+c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard) // errors are reported in one line by report
	fs.Usage = func() {}
	run := c.setup(fs)
	fs.StringVar(&o.server, "server", envOr(envServer, defaultServer), "comma-separated `host:port` list of the servers to try; default $"+envServer+", else "+defaultServer)
	fs.StringArrayVar(&o.auth, "auth", nil, "authenticate as `scheme:credentials`, like addauth (repeatable; visible in ps: prefer --auth-file or ZKFS_AUTH)")
	fs.StringVar(&o.authFile, "auth-file", "", "`file` of scheme:credentials lines to authenticate with (mode 0600)")
	fs.StringVar(&o.tls.cert, "tls-cert", "", "PEM client certificate for a TLS client port (with --tls-key; the file may hold the key too)")
	fs.StringVar(&o.tls.key, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&o.tls.ca, "tls-ca", "", "PEM CA certificates the server's certificate must chain to; connecting with any --tls-* flag uses TLS")
	return fs, run
}

// printHelp writes the subcommand's help to standard output.
func (c *command) printHelp(fs *pflag.FlagSet) {
	fmt.Printf("%s\n\n%s\n\nflags:\n", c.usage(), strings.TrimSpace(c.help))
	fs.SetOutput(os.Stdout)
	fs.PrintDefaults()
	fmt.Print(`
As in zkCli.sh, -server may be written with one dash; --server also works.
Errors are printed as zkCli.sh prints them, on one line on standard error,
with exit status 1; usage errors exit with status 2.
`)
	if c.takesCommand {
		fmt.Print("When zkfs runs a COMMAND, its own failures exit 125 instead.\n")
	}
}

func (c *command) usage() string {
	return strings.TrimSpace("usage: zkfs " + c.name + " " + c.synopsis)
}

// entry returns the function that main's commands map runs.
func (c *command) entry() func(args []string) int {
	return func(args []string) int {
		o := &clientOptions{}
		fs, run := c.flagSet(o)
		if err := fs.Parse(zkCliArgs(args)); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				c.printHelp(fs)
				return 0
			}
			return c.report(o, &usageError{msg: err.Error()})
		}
		rest := fs.Args()
		if dash := fs.ArgsLenAtDash(); dash >= 0 && c.takesCommand {
			o.command = rest[dash:]
			rest = rest[:dash]
			if len(o.command) == 0 {
				return c.report(o, usagef("no command after --"))
			}
		}
		if len(rest) < c.minArgs || len(rest) > c.maxArgs {
			return c.report(o, usagef("%s", c.usage()))
		}
		return c.report(o, run(o, rest))
	}
}

// zkCliArgs rewrites zkCli.sh's single-dash long options (-server, and
// reconfig's -add, -remove, -members, -file) into pflag's double-dash
// form; pflag would otherwise read -server as the shorthands -s -e -r ...
func zkCliArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		for _, long := range []string{"-server", "-add", "-remove", "-members", "-file"} {
			if a == long || strings.HasPrefix(a, long+"=") {
				out[i] = "-" + a
			}
		}
	}
	return out
}

// report is report for this subcommand: when it runs a command, its own
// failures exit 125, apart from the statuses the command's outcome gives
// (exitStatus).
func (c *command) report(o *clientOptions, err error) int {
	var es *exitStatus
	if errors.As(err, &es) {
		if es.msg != "" {
			fmt.Fprintf(os.Stderr, "zkfs %s: %s\n", c.name, oneLine(es.msg))
		}
		return es.code
	}
	if err != nil && (c.wrapper || o.command != nil) {
		var ue *usageError
		if errors.As(err, &ue) {
			err = &messageError{msg: "zkfs " + c.name + ": " + ue.msg}
		}
		report(c.name, err)
		return exitFailed
	}
	return report(c.name, err)
}

// report prints err as its kind demands and returns the exit status.
func report(name string, err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "zkfs %s: %s\n", name, oneLine(ue.msg))
		return 2
	}
	fmt.Fprintln(os.Stderr, oneLine(err.Error()))
	return 1
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}

// servers splits and checks the -server list.
func (o *clientOptions) servers() ([]string, error) {
	var list []string
	for _, s := range strings.Split(o.server, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			return nil, usagef("a chroot in the server list is not supported: %s", o.server)
		}
		list = append(list, s)
	}
	if len(list) == 0 {
		return nil, usagef("no server given")
	}
	return list, nil
}

// auths parses the credentials of --auth, --auth-file and ZKFS_AUTH, and
// warns on standard error about those that other users can see.
func (o *clientOptions) auths() ([]zkclient.Auth, error) {
	var out []zkclient.Auth
	all := o.auth
	// Warnings come once every credential parsed, so that an error
	// stays the one line on standard error.
	var warnings []string
	if len(o.auth) > 0 {
		warnings = append(warnings, argvWarning("--auth", "--auth-file or "+authEnv))
	}
	if o.authFile != "" {
		s, w, err := readSecretFile("--auth-file", o.authFile)
		if err != nil {
			return nil, &messageError{msg: "zkfs: " + err.Error()}
		}
		if w != "" {
			warnings = append(warnings, w)
		}
		all = append(all, secretLines(s)...)
	}
	all = append(all, secretLines(os.Getenv(authEnv))...)
	for _, a := range all {
		scheme, cred, ok := strings.Cut(a, ":")
		if !ok || scheme == "" {
			// The value is not repeated: it may hold a password.
			return nil, usagef("a credential (--auth, --auth-file or %s) is not scheme:credentials", authEnv)
		}
		out = append(out, zkclient.Auth{Scheme: scheme, Data: []byte(cred)})
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "zkfs: warning: %s\n", w)
	}
	return out, nil
}

func (o *clientOptions) cannotConnect() error {
	return &messageError{msg: "zkfs: cannot connect to " + o.server}
}

// cannotConnectBecause names the cause when one is known (a TLS handshake
// that failed: unknown authority, expired certificate).
func (o *clientOptions) cannotConnectBecause(err error) error {
	if err == nil {
		return o.cannotConnect()
	}
	return &messageError{msg: "zkfs: cannot connect to " + o.server + ": " + err.Error()}
}

func authFailed(a zkclient.Auth) error {
	return &messageError{msg: "zkfs: authentication failed for scheme " + a.Scheme}
}

// nopLogger silences go-zookeeper, whose connection chatter would otherwise
// mix with the command's output.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session and authenticates it. The caller
// must Close it: that ends the session, so ephemeral nodes go at once, as
// they do when zkCli.sh exits.
func (o *clientOptions) connect(callbacks ...func(zk.Event)) (*zk.Conn, error) {
	servers, err := o.servers()
	if err != nil {
		return nil, err
	}
	auths, err := o.auths()
	if err != nil {
		return nil, err
	}
	dialer, tlsd, err := o.zkDialer()
	if err != nil {
		return nil, err
	}
	ready := make(chan zk.State, 1)
	timeout := sessionTimeout
	if o.sessionTimeout > 0 {
		timeout = o.sessionTimeout
	}
	conn, _, err := zk.Connect(servers, timeout,
		zk.WithDialer(dialer),
		zk.WithLogger(nopLogger{}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			for _, cb := range callbacks {
				cb(ev)
			}
			if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
				select {
				case ready <- ev.State:
				default:
				}
			}
		}))
	if err != nil {
		// Only an empty list (ruled out above) or names that do not
		// resolve get here.
		return nil, o.cannotConnect()
	}
	select {
	case <-ready:
	case <-tlsd.rejectedCh():
		conn.Close()
		return nil, o.cannotConnectBecause(tlsd.lastErr())
	case <-time.After(connectTimeout):
		conn.Close()
		return nil, o.cannotConnectBecause(tlsd.lastErr())
	}
	for _, a := range auths {
		if err := conn.AddAuth(a.Scheme, a.Data); err != nil {
			conn.Close()
			if errors.Is(err, zk.ErrAuthFailed) {
				return nil, authFailed(a)
			}
			return nil, err
		}
	}
	return conn, nil
}

// dial opens a zkclient session, for the requests go-zookeeper lacks.
func (o *clientOptions) dial() (*zkclient.Conn, error) {
	servers, err := o.servers()
	if err != nil {
		return nil, err
	}
	auths, err := o.auths()
	if err != nil {
		return nil, err
	}
	timeout := sessionTimeout
	if o.sessionTimeout > 0 {
		timeout = o.sessionTimeout
	}
	var tc *tls.Config
	if o.tls.set() {
		if tc, err = o.tls.config(); err != nil {
			return nil, err
		}
	}
	c, err := zkclient.Dial(zkclient.Config{
		Servers:        servers,
		SessionTimeout: timeout,
		ConnectTimeout: connectTimeout,
		Auth:           auths,
		TLS:            tc,
	})
	if err != nil {
		var ae *zkclient.AuthError
		if errors.As(err, &ae) {
			return nil, authFailed(zkclient.Auth{Scheme: ae.Scheme})
		}
		var te *tls.CertificateVerificationError
		if errors.As(err, &te) {
			return nil, o.cannotConnectBecause(te)
		}
		return nil, o.cannotConnect()
	}
	return c, nil
}

// withConn runs f on a fresh go-zookeeper session.
func (o *clientOptions) withConn(f func(c *zk.Conn) error) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

// withDial runs f on a fresh zkclient session.
func (o *clientOptions) withDial(f func(c *zkclient.Conn) error) error {
	c, err := o.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

// readData returns the DATA argument's bytes: standard input for "-", so
// that files and binary data can be stored.
func readData(arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		return nil, &messageError{msg: "zkfs: reading standard input: " + err.Error()}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// clientCommands are the client subcommands, in the order the usage lists
// them.
var clientCommands = []*command{
	lsCommand, getCommand, statCommand, getACLCommand, getEphemeralsCommand,
	getAllChildrenNumberCommand, whoamiCommand, syncCommand,
	createCommand, setCommand, deleteCommand, deleteAllCommand, setACLCommand,
	watchCommand, lockCommand, electCommand,
}

// init adds the client subcommands to main's table here rather than line by
// line in main.go, which the server's subcommands share.
func init() {
	for _, c := range clientCommands {
		commands[c.name] = c.entry()
	}
}
