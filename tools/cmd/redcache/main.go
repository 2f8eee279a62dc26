// Command redcache is the command-line companion of redcache, the Redis
// cache for Go: it plays a demo of the cache at work, and looks into (and
// acts on) what a running application keeps in Redis.
//
//	redcache [--url URL] [--driver goredis|radix] COMMAND [flags] [args]
//
// Run "redcache help" for the list of commands and "redcache help COMMAND"
// for one command's flags. Every command but demo needs a Redis: --url, or
// the REDIS_URL environment variable. Exit status: 0 on success, 1 when the
// command failed, 2 for a usage error (an unknown command or flag, a
// missing argument, no or a malformed Redis URL).
//
// # Adding a command
//
// Commands live in a registry filled by init functions, one file per
// command, so that a file adds its command on its own and the help lists
// whatever is registered. keys.go, for example, registers "keys" with:
//
//	func init() {
//		register(&command{
//			name:    "keys",
//			summary: "one line for the list of commands",
//			usage:   "redcache keys [flags] [NAME]\n\nWhat it does, in a paragraph or two.",
//			run:     runKeys,
//		})
//	}
//
//	func runKeys(ctx context.Context, env *Env, args []string) error {
//		fs := env.FlagSet("keys")            // has --url and --driver already
//		limit := fs.Int("limit", 100, "list at most `N` keys")
//		args, err := env.Parse(fs, args)      // handles -h (prints the help) and bad flags
//		if err != nil {
//			return err                        // return it as is
//		}
//		if len(args) > 1 {
//			return usageErrorf("unexpected argument %q", args[1])
//		}
//		d, err := env.Connect(ctx)            // opens the driver and PINGs it; closed after run
//		if err != nil {
//			return err
//		}
//		fmt.Fprintf(env.Stdout, "...\n")
//		...
//	}
//
// The benchmark against other libraries is a command of its own,
// tools/cmd/redcache-bench, so that building this one (the demo's first
// "go run") does not compile the libraries it measures.
//
// A command that needs clients of its own (other libraries, several
// connections) takes the URL with env.URL() and the driver's name with
// env.DriverName() instead of, or as well as, env.Connect.
//
// A command returns a usageErrorf error for what the user typed wrong (exit
// status 2) and any other error when it failed (exit status 1); run prints
// either on stderr, on one line. "redcache help NAME" runs the command
// with -h, so every command must call env.Parse before it does anything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/tools/internal/cli"
)

// command is one subcommand of redcache.
type command struct {
	// name is what the user types: "keys", "stats".
	name string
	// summary is one line for the list of commands, lower case, no period.
	summary string
	// usage is the command's help: a synopsis line, a blank line and a
	// description. The flags are listed after it.
	usage string
	// run runs the command. args are what follows the command's name; the
	// command parses them with env.FlagSet and env.Parse.
	run func(ctx context.Context, env *Env, args []string) error
}

// commands is the registry, filled by the init functions of each
// command's file through register.
var commands = map[string]*command{}

// register adds c to the registry. It panics on a duplicate name, a
// mistake that every run of the program would show.
func register(c *command) {
	if c == nil || c.name == "" || c.run == nil {
		panic("redcache: register of an incomplete command")
	}
	if _, dup := commands[c.name]; dup {
		panic("redcache: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// envURL is the environment variable that names the Redis when --url does
// not.
const envURL = "REDIS_URL"

// Env is what a command runs with: its output streams, its environment,
// and the connection flags shared by every command.
type Env struct {
	// Stdout receives the command's output, Stderr its diagnostics.
	Stdout, Stderr io.Writer
	// Getenv reads the environment (os.Getenv, or a fake in tests).
	Getenv func(string) string

	cmd     *command
	url     string // --url; REDIS_URL when empty
	driver  string // --driver
	closers []func() error
}

// usageError is what the user typed wrong; run exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErrorf returns an error that makes run print msg with a pointer to
// the command's help and exit with status 2.
func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelpShown reports that -h printed the help: run exits with status 0.
var errHelpShown = errors.New("help shown")

// FlagSet returns the flag set of the command name, with the connection
// flags (--url, --driver) already defined. Parse it with [Env.Parse].
func (e *Env) FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse prints help and errors itself
	fs.Usage = func() {}
	fs.StringVar(&e.url, "url", e.url, "Redis `URL` (default: $REDIS_URL); see 'redcache help'")
	fs.StringVar(&e.driver, "driver", e.driver, "Redis client `NAME`: goredis or radix")
	return fs
}

// Parse parses args with fs and returns the positional arguments. Flags
// may come before, between or after them; "--" ends the flags. On -h it
// prints the command's help to Stdout and returns an error that makes run
// exit with status 0; a bad flag is a usage error.
func (e *Env) Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				e.printCommandHelp(fs)
				return nil, errHelpShown
			}
			return nil, usageErrorf("%s", cli.FlagError(err.Error()))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if !slices.Contains(cli.Drivers, e.driver) {
		return nil, usageErrorf("--driver %q: want %s", e.driver, strings.Join(cli.Drivers, " or "))
	}
	return pos, nil
}

// printCommandHelp prints the usage text of the running command and the
// flags of fs.
func (e *Env) printCommandHelp(fs *flag.FlagSet) {
	w := e.Stdout
	if e.cmd != nil {
		fmt.Fprintln(w, strings.TrimRight(e.cmd.usage, "\n"))
	}
	fmt.Fprintln(w, "\nFlags:")
	printFlags(w, fs)
}

// printFlags lists the flags of fs GNU-style (--name VALUE), which they
// accept as well as -name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.Name != "url" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	})
	tw.Flush()
}

// urlSource says where the URL came from, for messages.
func (e *Env) urlSource() string {
	if e.url != "" {
		return "--url"
	}
	return envURL
}

// redisURL is the URL the command should connect to: --url, else
// REDIS_URL, else "".
func (e *Env) redisURL() string {
	if e.url != "" {
		return e.url
	}
	return strings.TrimSpace(e.Getenv(envURL))
}

// URL returns the Redis URL the command should use (--url, else
// REDIS_URL), or a usage error when there is none.
func (e *Env) URL() (string, error) {
	raw := e.redisURL()
	if raw == "" {
		return "", usageErrorf("no Redis: pass --url or set %s", envURL)
	}
	return raw, nil
}

// DriverName returns the driver --driver asked for: "goredis" or "radix".
func (e *Env) DriverName() string { return e.driver }

// Connect opens the Redis named by --url or REDIS_URL with the driver
// --driver names and checks it with a PING, all within a few seconds. The
// driver is closed when the command returns. A missing or malformed URL is
// a usage error; a server that does not answer is a failure whose message
// says which server (without its password).
func (e *Env) Connect(ctx context.Context) (conn.Driver, error) {
	raw, err := e.URL()
	if err != nil {
		return nil, err
	}
	d, err := cli.Open(ctx, e.driver, raw)
	if errors.Is(err, cli.ErrBadURL) || errors.Is(err, cli.ErrUnknownDriver) {
		return nil, usageErrorf("%v (from %s)", err, e.urlSource())
	}
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, d.Close)
	return d, nil
}

// close releases what the command opened.
func (e *Env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		_ = e.closers[i]()
	}
	e.closers = nil
}

// stderrIsTerminal reports whether Stderr is a terminal, where progress
// lines are welcome.
func (e *Env) stderrIsTerminal() bool { return isTerminal(e.Stderr) }

// isTerminal reports whether w is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs the redcache command line args (without the program name)
// and returns the exit status. Tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	env := &Env{Stdout: stdout, Stderr: stderr, Getenv: getenv, driver: "goredis"}

	top := flag.NewFlagSet("redcache", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	top.Usage = func() {}
	top.StringVar(&env.url, "url", "", "Redis `URL` (default: $REDIS_URL)")
	top.StringVar(&env.driver, "driver", "goredis", "Redis client `NAME`: goredis or radix")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "redcache: %s\nRun 'redcache help' for usage.\n", cli.FlagError(err.Error()))
		return exitUsage
	}
	args = top.Args()
	if len(args) == 0 {
		printHelp(stderr)
		return exitUsage
	}

	name, args := args[0], args[1:]
	if name == "help" {
		return runHelp(ctx, env, args)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "redcache: unknown command %q\nRun 'redcache help' for the list of commands.\n", name)
		return exitUsage
	}
	env.cmd = c
	err := c.run(ctx, env, args)
	env.close()
	return report(stderr, c.name, err)
}

// report prints err, if any, and returns the exit status it calls for.
func report(stderr io.Writer, name string, err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "redcache %s: %s\nRun 'redcache help %s' for usage.\n", name, ue.msg, name)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "redcache %s: interrupted\n", name)
		return exitFailure
	}
	fmt.Fprintf(stderr, "redcache %s: %s\n", name, oneLine(err.Error()))
	return exitFailure
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// runHelp is "redcache help [COMMAND]".
func runHelp(ctx context.Context, env *Env, args []string) int {
	switch len(args) {
	case 0:
		printHelp(env.Stdout)
		return exitOK
	case 1:
		c, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(env.Stderr, "redcache help: unknown command %q\nRun 'redcache help' for the list of commands.\n", args[0])
			return exitUsage
		}
		env.cmd = c
		err := c.run(ctx, env, []string{"-h"})
		env.close()
		return report(env.Stderr, c.name, err)
	}
	fmt.Fprintln(env.Stderr, "redcache help: too many arguments\nUsage: redcache help [COMMAND]")
	return exitUsage
}

// printHelp prints the program's usage and the registered commands.
func printHelp(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)

	fmt.Fprint(w, `redcache: tools for redcache, the Redis cache for Go.

Usage:
  redcache [--url URL] [--driver goredis|radix] COMMAND [flags] [args]
  redcache help [COMMAND]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", name, commands[name].summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
Connection (every command but demo needs a Redis):
  --url URL        the Redis to use; default: $REDIS_URL. With goredis:
                     redis://[user:password@]host[:port][/db][?dial_timeout=2s&...]
                     rediss://...                          the same over TLS
                     unix://[user:password@]/path/to/redis.sock[?db=N]
                     redis+cluster://host:port[,host:port...]
                     redis+sentinel://host:port[,host:port...]?master_name=NAME
                   (radix takes redis://, rediss:// and unix://; a cluster as
                   redis://host:port,host:port or with cluster=true)
  --driver NAME    goredis (default) or radix
  These flags may also follow the command's name.

Exit status: 0 success, 1 failure (such as an unreachable Redis), 2 usage error.
Run 'redcache help COMMAND' for a command's flags.
`)
}
