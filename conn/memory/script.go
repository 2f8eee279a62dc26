package memory

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redcache/redcache/conn"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Scripts: EVAL, EVALSHA and SCRIPT, run by gopher-lua (Lua 5.1, the
// version Redis embeds) with the redis.* functions.

func init() {
	register("script", -2, cmdScript)
}

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// compile parses src as Redis does, reporting errors as Redis words them.
func compile(src string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), "@user_script")
	if err != nil {
		return nil, replyErr("ERR Error compiling script (new function): " + oneLine(err.Error()))
	}
	proto, err := lua.Compile(chunk, "@user_script")
	if err != nil {
		return nil, replyErr("ERR Error compiling script (new function): " + oneLine(err.Error()))
	}
	return proto, nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// cmdScript is SCRIPT LOAD, EXISTS and FLUSH.
func cmdScript(s *store, a []string) (any, error) {
	switch sub := strings.ToLower(a[1]); sub {
	case "load":
		if len(a) != 3 {
			return nil, wrongArgs("script|load")
		}
		if _, err := s.load(a[2]); err != nil {
			return nil, err
		}
		return sha1hex(a[2]), nil
	case "exists":
		if len(a) < 3 {
			return nil, wrongArgs("script|exists")
		}
		out := make([]any, len(a)-2)
		for i, sha := range a[2:] {
			_, has := s.scripts[strings.ToLower(sha)]
			out[i] = boolInt(has)
		}
		return out, nil
	case "flush":
		if len(a) > 3 {
			return nil, wrongArgs("script|flush")
		}
		clear(s.scripts)
		return ok, nil
	default:
		return nil, replyErr(fmt.Sprintf("ERR unknown subcommand '%s'. Try SCRIPT HELP.", a[1]))
	}
}

// compiled is a loaded script.
type compiled struct {
	src   string
	proto *lua.FunctionProto
}

// load compiles src and caches it under its SHA1, as EVAL and SCRIPT LOAD
// do. Call with s.mu held.
func (s *store) load(src string) (*compiled, error) {
	sha := sha1hex(src)
	if c, has := s.scripts[sha]; has {
		return c, nil
	}
	proto, err := compile(src)
	if err != nil {
		return nil, err
	}
	c := &compiled{src: src, proto: proto}
	s.scripts[sha] = c
	return c, nil
}

// eval runs EVAL or EVALSHA atomically.
func (s *store) eval(ctx context.Context, a []string) (any, error) {
	name := strings.ToLower(a[0])
	if len(a) < 3 {
		return nil, wrongArgs(name)
	}
	nkeys, err := strconv.Atoi(a[2])
	switch {
	case err != nil:
		return nil, errNotInt
	case nkeys < 0:
		return nil, replyErr("ERR Number of keys can't be negative")
	case nkeys > len(a)-3:
		return nil, replyErr("ERR Number of keys can't be greater than number of args")
	}
	keys, argv := a[3:3+nkeys], a[3+nkeys:]

	s.mu.Lock()
	defer s.mu.Unlock()
	var c *compiled
	if name == "evalsha" {
		var has bool
		if c, has = s.scripts[strings.ToLower(a[1])]; !has {
			return nil, replyErr("NOSCRIPT No matching script. Please use EVAL.")
		}
	} else if c, err = s.load(a[1]); err != nil {
		return nil, err
	}
	return s.run(ctx, c, sha1hex(c.src), keys, argv)
}

// run executes a compiled script with s.mu held.
func (s *store) run(ctx context.Context, c *compiled, sha string, keys, argv []string) (any, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	// Redis scripts cannot reach files or load code.
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "module", "require", "print"} {
		L.SetGlobal(name, lua.LNil)
	}
	L.SetGlobal("KEYS", stringTable(L, keys))
	L.SetGlobal("ARGV", stringTable(L, argv))
	L.SetGlobal("redis", s.redisLib(L))
	// As in Redis, a script cannot create globals nor read undefined ones.
	protect := L.NewTable()
	L.SetField(protect, "__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to create global variable '%s'", L.ToString(2))
		return 0
	}))
	L.SetField(protect, "__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
		return 0
	}))
	L.SetMetatable(L.Get(lua.GlobalsIndex), protect)
	L.SetContext(ctx)

	L.Push(L.NewFunctionFromProto(c.proto))
	if err := L.PCall(0, 1, nil); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var apiErr *lua.ApiError
		if errors.As(err, &apiErr) {
			if t, isTable := apiErr.Object.(*lua.LTable); isTable {
				if e, isStr := t.RawGetString("err").(lua.LString); isStr {
					return nil, replyErr(string(e))
				}
			}
			return nil, replyErr("ERR " + oneLine(apiErr.Object.String()) + " script: " + sha)
		}
		return nil, replyErr("ERR " + oneLine(err.Error()) + " script: " + sha)
	}
	return fromLua(L.Get(-1)), nil
}

func stringTable(L *lua.LState, vals []string) *lua.LTable {
	t := L.CreateTable(len(vals), 0)
	for _, v := range vals {
		t.Append(lua.LString(v))
	}
	return t
}

// redisLib is the redis table scripts see.
func (s *store) redisLib(L *lua.LState) *lua.LTable {
	lib := L.NewTable()
	L.SetField(lib, "call", L.NewFunction(func(L *lua.LState) int { return s.luaCall(L, true) }))
	L.SetField(lib, "pcall", L.NewFunction(func(L *lua.LState) int { return s.luaCall(L, false) }))
	L.SetField(lib, "sha1hex", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(sha1hex(L.CheckString(1))))
		return 1
	}))
	L.SetField(lib, "error_reply", L.NewFunction(func(L *lua.LState) int {
		t := L.NewTable()
		L.SetField(t, "err", lua.LString(L.CheckString(1)))
		L.Push(t)
		return 1
	}))
	L.SetField(lib, "status_reply", L.NewFunction(func(L *lua.LState) int {
		t := L.NewTable()
		L.SetField(t, "ok", lua.LString(L.CheckString(1)))
		L.Push(t)
		return 1
	}))
	L.SetField(lib, "log", L.NewFunction(func(*lua.LState) int { return 0 }))
	for i, name := range []string{"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"} {
		L.SetField(lib, name, lua.LNumber(i))
	}
	return lib
}

// luaCall is redis.call (raise) and redis.pcall (return the error as a
// table {err=...}).
func (s *store) luaCall(L *lua.LState, raise bool) int {
	fail := func(msg string) int {
		t := L.NewTable()
		L.SetField(t, "err", lua.LString(msg))
		if raise {
			L.Error(t, 1)
			return 0
		}
		L.Push(t)
		return 1
	}
	n := L.GetTop()
	if n == 0 {
		return fail("ERR Please specify at least one argument for this redis lib call")
	}
	args := make([]string, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = string(v)
		case lua.LNumber:
			args[i-1] = v.String()
		default:
			return fail("ERR Lua redis lib command arguments must be strings or integers")
		}
	}
	switch strings.ToLower(args[0]) {
	case "eval", "evalsha", "script", "blpop", "brpop":
		return fail("ERR This Redis command is not allowed from script")
	}
	r, err := s.exec(args)
	if err != nil {
		var re *conn.ReplyError
		if errors.As(err, &re) {
			return fail(re.Msg)
		}
		return fail("ERR " + err.Error())
	}
	L.Push(toLua(L, r))
	return 1
}

// toLua converts a reply to Lua as Redis does: nil is false, a status is
// {ok=...}, an array a table.
func toLua(L *lua.LState, r any) lua.LValue {
	switch v := r.(type) {
	case nil:
		return lua.LFalse
	case status:
		t := L.NewTable()
		L.SetField(t, "ok", lua.LString(v))
		return t
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case *conn.ReplyError:
		t := L.NewTable()
		L.SetField(t, "err", lua.LString(v.Msg))
		return t
	}
	return lua.LFalse
}

// fromLua converts a script's result as Redis does: a number is truncated
// to an integer, true is 1, false and nil are nil, a table with err or ok
// is an error or a status, any other table an array up to its first nil.
func fromLua(v lua.LValue) any {
	switch x := v.(type) {
	case lua.LNumber:
		return int64(x)
	case lua.LString:
		return string(x)
	case lua.LBool:
		if x {
			return int64(1)
		}
		return nil
	case *lua.LTable:
		if e, isStr := x.RawGetString("err").(lua.LString); isStr {
			return replyErr(string(e))
		}
		if st, isStr := x.RawGetString("ok").(lua.LString); isStr {
			return status(st)
		}
		out := []any{}
		for i := 1; ; i++ {
			e := x.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			out = append(out, fromLua(e))
		}
		return out
	}
	return nil
}
