package core

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
)

// batchWrite is one entry a batch load stores.
type batchWrite[K comparable, V any] struct {
	it    *batchItem[K, V]
	ent   format.Entry
	ttl   time.Duration
	until int64
	value bool // a value, not a negative entry
}

// pipeline writes ws with the default store in one pipeline, each entry
// as save writes one: over what the read of its key saw with the fence
// script, and, where it saw nothing, with the script that checks in the
// same step that the key is empty and the generation keys still hold
// what the store's check read (saveNew). On a cluster, where that script
// spans slots, it falls back to SET NX and checks the generations again
// after the write, taking back what it wrote when they moved (recheck).
// It reports, per write, whether it stored.
func (bc *batchCall[K, V]) pipeline(ctx, wctx context.Context, b0 *breaker, ws []batchWrite[K, V]) []bool {
	e := bc.e
	type op struct {
		script *conn.Script // nil: SET NX
		keys   []string
		args   []any
	}
	stored := make([]bool, len(ws))
	ops := make([]op, len(ws))
	cmds := make([]*conn.Cmd, len(ws))
	genKeys, gens := e.appendGenerationChecks(nil, nil, bc.d, bc.st, bc.tags)
	setNX := func(key string, data []byte, ms int64) op {
		if ms > 0 {
			return op{keys: []string{key}, args: []any{data, "PX", ms, "NX"}}
		}
		return op{keys: []string{key}, args: []any{data, "NX"}}
	}
	for i, w := range ws {
		data := w.ent.Append(make([]byte, 0, w.ent.Size()))
		ms := pxMillis(w.ttl)
		switch {
		case w.it.p.seen != nil:
			sum := sha1.Sum(w.it.p.seen)
			ops[i] = op{script: fenceScript, keys: []string{w.it.key}, args: []any{data, ms, hex.EncodeToString(sum[:])}}
		case bc.st.crossSlot.Load():
			ops[i] = setNX(w.it.key, data, ms)
		default:
			ops[i] = op{script: fenceNewScript, keys: append([]string{w.it.key}, genKeys...), args: append([]any{data, ms}, gens...)}
		}
	}
	build := func(o op) *conn.Cmd {
		if o.script == nil {
			return conn.NewCmd(append([]any{"SET", o.keys[0]}, o.args...)...)
		}
		args := []any{"EVALSHA", o.script.Hash(), len(o.keys)}
		for _, k := range o.keys {
			args = append(args, k)
		}
		return conn.NewCmd(append(args, o.args...)...)
	}
	for i, o := range ops {
		cmds[i] = build(o)
	}
	sctx, step := e.redisStart(wctx, OpSave, ws[0].it.key)
	err := bc.d.Pipeline(sctx, cmds...)
	var checkAfter []int // written with SET NX apart from the generation check
	if err == nil {
		var again []int
		for i, c := range cmds {
			switch {
			case conn.IsReplyError(c.Err, "NOSCRIPT"):
				// A Redis that restarted does not know the scripts yet:
				// Eval loads them.
				c.Reply, c.Err = bc.d.Eval(sctx, ops[i].script, ops[i].keys, ops[i].args...)
				if conn.IsReplyError(c.Err, "CROSSSLOT") {
					again = append(again, i)
				}
			case conn.IsReplyError(c.Err, "CROSSSLOT"):
				again = append(again, i)
			case ops[i].script == nil:
				checkAfter = append(checkAfter, i)
			}
		}
		if len(again) > 0 {
			// A cluster: the key and its generation keys are in other
			// slots. Remember it, and write these with SET NX.
			bc.st.crossSlot.Store(true)
			redo := make([]*conn.Cmd, len(again))
			for j, i := range again {
				w := ws[i]
				ms, _ := ops[i].args[1].(int64)
				ops[i] = setNX(w.it.key, ops[i].args[0].([]byte), ms)
				cmds[i] = build(ops[i])
				redo[j] = cmds[i]
				checkAfter = append(checkAfter, i)
			}
			err = bc.d.Pipeline(sctx, redo...)
		}
	}
	step.end(err)
	var first error
	for i, c := range cmds {
		cerr := err
		if cerr == nil {
			cerr = c.Err
		}
		switch {
		case cerr == nil:
			stored[i] = c.Reply == "OK" || c.Reply == int64(1)
		case errors.Is(cerr, conn.ErrMiss):
			// SET NX found a key: not stored
		case first == nil:
			first = cerr
		}
	}
	// One report for the pipeline, however many keys it failed.
	e.m.redisResult(ctx, &e.cfg, bc.d, b0, OpSave, e.name, ws[0].it.key, first)
	if err == nil {
		bc.recheck(ctx, wctx, b0, ws, checkAfter, stored)
	}
	for i := range ws {
		if !stored[i] && first == nil {
			count(&e.m.stats.fenced, &e.stats.fenced)
		}
	}
	return stored
}

// recheck is recheck for the entries of ws at idx that were written with
// SET NX apart from their generation check: when the generation moved
// since (a restart lost the key, or an invalidation came), each is taken
// back while it is still the one written.
func (bc *batchCall[K, V]) recheck(ctx, wctx context.Context, b0 *breaker, ws []batchWrite[K, V], idx []int, stored []bool) {
	e := bc.e
	var back []int
	for _, i := range idx {
		if stored[i] {
			back = append(back, i)
		}
	}
	if len(back) == 0 {
		return
	}
	got, err := e.readGenerations(ctx, wctx, bc.d, b0, bc.st, bc.tags, time.Now().UnixNano())
	if err != nil || got == ws[back[0]].ent.Generation {
		// Unreadable: as unknown as before the write (see recheck).
		return
	}
	cmds := make([]*conn.Cmd, len(back))
	for j, i := range back {
		cmds[j] = conn.NewCmd("EVALSHA", unsaveScript.Hash(), 1, ws[i].it.key, ws[i].ent.Append(nil))
		stored[i] = false
	}
	perr := bc.d.Pipeline(wctx, cmds...)
	for j, c := range cmds {
		cerr := perr
		if cerr == nil {
			cerr = c.Err
		}
		if conn.IsReplyError(cerr, "NOSCRIPT") {
			_, cerr = bc.d.Eval(wctx, unsaveScript, []string{ws[back[j]].it.key}, ws[back[j]].ent.Append(nil))
		}
		if cerr != nil {
			e.m.redisResult(ctx, &e.cfg, bc.d, b0, OpSave, e.name, ws[back[j]].it.key, cerr)
			return
		}
	}
}
