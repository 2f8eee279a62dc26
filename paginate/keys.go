package paginate

import (
	"hash/fnv"
	"strings"

	"github.com/redcache/redcache/conn"
)

// Key layout. Every key of one list shares the hash tag {<name>}, so the
// scripts that touch several of them run on one Cluster node:
//
//	<prefix>:{<name>}:ptr            the current version: 16 hex digits of
//	                                 version, then 32 of cursor secret
//	<prefix>:{<name>}:<version>:z    sorted set: item ID -> position or score
//	<prefix>:{<name>}:<version>:h    hash: item ID -> encoded item
//
// A Replace builds a new version's two keys, then switches the pointer;
// every read goes through the pointer inside one script.
type keys struct {
	base string // <prefix>:{<name>}
	ptr  string
	id   uint64 // written into each item's header: an item of another list is foreign
}

func newKeys(prefix, name string) (keys, error) {
	if name == "" {
		return keys{}, badArg("empty list name")
	}
	if strings.HasPrefix(name, "}") {
		// "{}" is no hash tag: the keys would spread over the cluster.
		return keys{}, badArg("list name %q starts with '}', which breaks its hash tag", name)
	}
	base := prefix + ":{" + name + "}"
	k := keys{base: base, ptr: base + ":ptr"}
	if conn.Slot(k.ptr) != conn.Slot(k.version("0000000000000000")+":z") {
		return keys{}, badArg("list name %q: its keys would not share a hash slot", name)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(base))
	k.id = uint64(h.Sum32())
	return k, nil
}

// version is the prefix of one version's keys.
func (k keys) version(v string) string { return k.base + ":" + v }
