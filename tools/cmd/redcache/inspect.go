package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/tools/internal/gobtext"
)

func init() {
	register(&command{
		name:    "inspect",
		summary: "decode one cache entry: header, codec, generation, ttl and value",
		usage: `redcache inspect [--prefix P] [--max N] [--hex] KEY

Reads KEY (GET and PTTL) and decodes it as a redcache entry (package core/format):
the format version, the flags (negative, compressed, soft expiry and when it
falls), the codec, the generation it was written in compared with the
function's current one (an older one reads as a miss), the payload's size,
the ttl, and a preview of the value:

  json      the JSON text
  raw       the bytes, quoted as a Go string
  gob       the value as Go-like text, read from the self-describing gob
            stream without its Go types (zero fields are left out, as gob
            leaves them out)
  negative  the cached loader error's message
  other     a hex dump

Compressed payloads are inflated first. A generation key (P:NAME:~gen) is
shown as such. A key that does not exist, or holds something that is not a
redcache entry, ends with exit status 1 (the first bytes are shown).

--prefix tells which part of the key is the prefix, to find the function's
name and its generation key; the default is "cache".`,
		run: runInspect,
	})
}

func runInspect(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("inspect")
	prefix := fs.String("prefix", "cache", "key prefix `P`, to find the function's generation")
	maxPreview := fs.Int("max", 1024, "show at most `N` bytes of the value")
	showHex := fs.Bool("hex", false, "add a hex dump of the whole stored value")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(args) == 0:
		return usageErrorf("missing KEY")
	case len(args) > 1:
		return usageErrorf("one KEY at a time (got %d arguments)", len(args))
	case *maxPreview <= 0:
		return usageErrorf("--max %d: want 1 or more", *maxPreview)
	}
	key := args[0]
	d, err := env.Connect(ctx)
	if err != nil {
		return err
	}

	typ, err := d.Do(ctx, "TYPE", key)
	if err != nil {
		return fmt.Errorf("TYPE %s: %w", printableKey(key), err)
	}
	switch typ {
	case "none":
		return fmt.Errorf("key %s does not exist", strconv.Quote(key))
	case "string":
	default:
		return fmt.Errorf("key %s holds a %v, not a redcache entry (entries are strings)", strconv.Quote(key), typ)
	}
	raw, err := d.Get(ctx, key)
	if errors.Is(err, conn.ErrMiss) {
		return fmt.Errorf("key %s does not exist (it just expired or was deleted)", strconv.Quote(key))
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w", printableKey(key), err)
	}
	pttl, err := d.Do(ctx, "PTTL", key)
	if err != nil {
		return fmt.Errorf("PTTL %s: %w", printableKey(key), err)
	}

	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	row("key", "%s", printableKey(key))
	row("size", "%d bytes", len(raw))
	row("ttl", "%s", ttlText(pttl))

	name := functionName(*prefix, key)
	if name != "" && strings.HasSuffix(key, ":~gen") && key == *prefix+":"+name+":~gen" {
		row("kind", "generation key of function %s (prefix %q)", name, *prefix)
		row("generation", "%s", printableKey(string(raw)))
		row("meaning", "entries written in an older generation read as misses")
		tw.Flush()
		return nil
	}

	ent, perr := format.Parse(raw)
	if perr != nil {
		row("entry", "not a redcache entry (%s)", strings.TrimPrefix(perr.Error(), core.ErrCorruptEntry.Error()+": "))
		row("first bytes", "%s", previewBytes(raw, 64))
		if *showHex {
			tw.Flush()
			fmt.Fprintf(env.Stdout, "\n%s", hex.Dump(raw))
		}
		tw.Flush()
		return fmt.Errorf("key %s is not a redcache entry", strconv.Quote(key))
	}

	row("format", "redcache entry, version %d", raw[1])
	row("flags", "%s", flagsText(ent))
	if !ent.SoftExpiry.IsZero() {
		row("soft expiry", "%s", softExpiryText(ent.SoftExpiry, time.Now()))
	}
	cd, cerr := codec.ByID(ent.Codec)
	if cerr != nil {
		row("codec", "unknown (id %#02x: a codec without an ID, or a newer one)", ent.Codec)
	} else {
		row("codec", "%s (id %#02x)", cd.Name(), ent.Codec)
	}
	row("generation", "%s", generationText(ctx, d, *prefix, name, ent.Generation))
	if name != "" {
		row("function", "%s", name)
	}

	payload := ent.Payload
	size := fmt.Sprintf("%d bytes", len(payload))
	if ent.Compressed && !ent.Negative {
		var inner []byte
		if err := codec.Compress(codec.Raw).Unmarshal(payload, &inner); err != nil {
			row("payload", "%s, compressed, does not inflate: %v", size, err)
			tw.Flush()
			return nil
		}
		if len(payload) > 0 && payload[0] == 0 {
			size += " (stored as is: below the compression threshold, or incompressible)"
		} else {
			size += fmt.Sprintf(" compressed, %d bytes inflated", len(inner))
		}
		payload = inner
	}
	row("payload", "%s", size)

	if ent.Negative {
		idx, n := binary.Uvarint(ent.Payload)
		switch {
		case n <= 0, ent.Version >= 2 && idx > uint64(len(ent.Payload)-n):
			row("error", "(damaged negative entry)")
		case ent.Version == 1: // the matched error by its index in the writer's list
			msg := string(ent.Payload[n:])
			row("cached error", "%s", truncate(strconv.Quote(msg), *maxPreview))
			if idx > 0 {
				row("matched", "error #%d given to WithNegativeCaching (errors.Is holds in every process)", idx)
			}
		default: // the matched error by its message, then the error's own
			name, msg := string(ent.Payload[n:n+int(idx)]), string(ent.Payload[n+int(idx):])
			row("cached error", "%s", truncate(strconv.Quote(msg), *maxPreview))
			if name != "" {
				row("matched", "the error %s given to WithNegativeCaching (errors.Is holds in every process)", truncate(strconv.Quote(name), *maxPreview))
			}
		}
	} else {
		label, text := valuePreview(cd, ent.Codec, payload, *maxPreview)
		row(label, "%s", text)
	}
	tw.Flush()
	if *showHex {
		fmt.Fprintf(env.Stdout, "\n%s", hex.Dump(raw))
	}
	return nil
}

// functionName returns the function name in key, the segment after
// "prefix:", or "" when key is not under prefix.
func functionName(prefix, key string) string {
	rest, ok := strings.CutPrefix(key, prefix+":")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ":")
	return name
}

// ttlText describes a PTTL reply.
func ttlText(reply any) string {
	ms, ok := reply.(int64)
	switch {
	case !ok:
		return fmt.Sprintf("unknown (PTTL replied %v)", reply)
	case ms == -1:
		return "none (kept until invalidated, overwritten or evicted)"
	case ms < 0:
		return "gone (the key expired while being read)"
	}
	d := time.Duration(ms) * time.Millisecond
	shown := d
	if d >= time.Minute {
		shown = d.Round(time.Second)
	}
	return fmt.Sprintf("%s (expires at %s)", shown, time.Now().Add(d).Format(time.RFC3339))
}

// flagsText lists the flags of an entry.
func flagsText(e format.Entry) string {
	var fl []string
	if e.Negative {
		fl = append(fl, "negative (a cached loader error)")
	}
	if e.Compressed {
		fl = append(fl, "compressed")
	}
	if !e.SoftExpiry.IsZero() {
		fl = append(fl, "soft expiry (stale-while-revalidate)")
	}
	if e.Tombstone {
		fl = append(fl, "tombstone (an invalidation: reads as a miss)")
	}
	if len(fl) == 0 {
		return "none"
	}
	return strings.Join(fl, ", ")
}

// softExpiryText says when the entry turns stale, or since when it is.
func softExpiryText(at, now time.Time) string {
	s := at.UTC().Format(time.RFC3339Nano)
	d := at.Sub(now).Round(time.Millisecond)
	if d > 0 {
		return fmt.Sprintf("%s (fresh for %s more)", s, d)
	}
	return fmt.Sprintf("%s (stale for %s: a read returns it and reloads it in the background)", s, -d)
}

// generationText compares the entry's generation with the function's
// current one, read from Redis.
func generationText(ctx context.Context, d conn.Driver, prefix, name string, gen uint64) string {
	if name == "" {
		return fmt.Sprintf("%d (the key is not under prefix %q: pass --prefix to compare with the current generation)", gen, prefix)
	}
	cur := uint64(0)
	b, err := d.Get(ctx, prefix+":"+name+":~gen")
	switch {
	case errors.Is(err, conn.ErrMiss):
	case err != nil:
		return fmt.Sprintf("%d (current generation unknown: %v)", gen, err)
	default:
		if cur, err = strconv.ParseUint(string(b), 10, 64); err != nil {
			return fmt.Sprintf("%d (the generation key holds %q, not a number)", gen, b)
		}
	}
	switch {
	case gen == cur:
		return fmt.Sprintf("%d (current: the entry is live)", gen)
	case gen < cur:
		return fmt.Sprintf("%d (current is %d: invalidated, reads as a miss)", gen, cur)
	}
	return fmt.Sprintf("%d (newer than the generation key's %d: the key was reset?)", gen, cur)
}

// valuePreview renders a payload as its codec allows: the label of the
// row and its text.
func valuePreview(cd codec.Codec, id byte, payload []byte, max int) (label, text string) {
	const compressed = 0x80 // see codec.ID
	inner := id &^ compressed
	switch {
	case cd == nil:
		return "value (hex)", hexPreview(payload, max)
	case inner == codecID(codec.JSON):
		if !json.Valid(payload) {
			return "value (damaged json)", previewBytes(payload, max)
		}
		return "value", truncate(string(payload), max)
	case inner == codecID(codec.Raw):
		return "value", previewBytes(payload, max)
	case inner == codecID(codec.Gob):
		if len(payload) == 0 {
			return "value", "nil (an empty gob payload: the loader returned nil)"
		}
		text, err := gobtext.Text(payload, max)
		if err != nil {
			return "value (hex)", hexPreview(payload, max) + "  (" + err.Error() + ")"
		}
		return "value", text
	}
	return "value (hex)", hexPreview(payload, max)
}

// codecID is codec.ID for a built-in codec.
func codecID(c codec.Codec) byte {
	id, _ := codec.ID(c)
	return id
}

// previewBytes quotes up to max bytes of b as a Go string.
func previewBytes(b []byte, max int) string {
	if len(b) <= max {
		return strconv.Quote(string(b))
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + fmt.Sprintf("… (%d more bytes)", len(b)-cut)
}

// hexPreview is the hex of up to max/2 bytes of b.
func hexPreview(b []byte, max int) string {
	n := min(len(b), max/2+1)
	s := hex.EncodeToString(b[:n])
	if n < len(b) {
		s += fmt.Sprintf("… (%d more bytes)", len(b)-n)
	}
	return s
}

// truncate cuts s to about max bytes, on a rune boundary.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes)", len(s)-cut)
}
