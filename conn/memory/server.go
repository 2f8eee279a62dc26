package memory

import (
	"strconv"
	"strings"
)

// Connection and server commands.

func init() {
	register("ping", -1, func(_ *store, a []string) (any, error) {
		switch len(a) {
		case 1:
			return status("PONG"), nil
		case 2:
			return a[1], nil
		}
		return nil, wrongArgs("ping")
	})
	register("echo", 2, func(_ *store, a []string) (any, error) { return a[1], nil })
	register("select", 2, func(_ *store, a []string) (any, error) {
		if a[1] != "0" {
			return nil, replyErr("ERR DB index is out of range")
		}
		return ok, nil
	})
	register("time", 1, func(s *store, _ []string) (any, error) {
		now := s.now()
		return []any{strconv.FormatInt(now.Unix(), 10), strconv.Itoa(now.Nanosecond() / 1000)}, nil
	})
	register("client", -2, func(_ *store, a []string) (any, error) {
		switch strings.ToLower(a[1]) {
		case "setname":
			return ok, nil
		case "setinfo":
			return ok, nil
		}
		return nil, unknownCommand(a)
	})
}
