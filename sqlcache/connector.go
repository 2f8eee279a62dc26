package sqlcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/redcache/redcache/core"
)

// Connector is a driver.Connector whose connections cache the results of
// the queries asked to be cached (see Cache and the "redcache:" comment)
// in Redis through a core.Manager, and invalidate them when a statement
// writes their tables. Open a *sql.DB on it with sql.OpenDB, or use Open.
type Connector struct {
	base driver.Connector
	m    *core.Manager
	cfg  *config
	memo *core.Memo[query, *result]

	failedInvalidations atomic.Uint64
}

// Stats are a Connector's counters.
type Stats struct {
	// Cache are the counters of the memoized function that caches the
	// results: hits, misses, loads, Redis errors...
	Cache core.Stats
	// FailedInvalidations counts the writes whose invalidation failed
	// (Redis down): their tables' cached results stayed until their ttl.
	FailedInvalidations uint64
}

// Stats returns the Connector's counters.
func (c *Connector) Stats() Stats {
	return Stats{Cache: c.memo.Stats(), FailedInvalidations: c.failedInvalidations.Load()}
}

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

// NewConnector wraps base, the connector of any database/sql driver, so
// that its queries can be cached with m's settings (its driver, prefix,
// timeouts, breaker and error handler). A wrapped connection implements
// every optional driver interface: where base implements one, it passes
// the call on; where base does not, it does what database/sql does
// without it.
//
// It fails when m already caches another live Connector's results under
// the same name (see WithName).
func NewConnector(base driver.Connector, m *core.Manager, opts ...Option) (c *Connector, err error) {
	if base == nil || m == nil {
		return nil, errors.New("redcache/sqlcache: NewConnector needs a connector and a Manager")
	}
	c = &Connector{base: base, m: m, cfg: newConfig(opts)}
	memoOpts := append(append([]core.Option{}, c.cfg.memoOpts...), core.WithCodec(resultCodec{c.cfg}))
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				c, err = nil, fmt.Errorf("redcache/sqlcache: %w", e)
				return
			}
			panic(r)
		}
	}()
	c.memo = core.Memoize(m, c.cfg.name, c.load, memoOpts...)
	return c, nil
}

// Open opens a *sql.DB on the driver registered as driverName (as
// sql.Open does), with its queries cached through m; see NewConnector.
func Open(driverName, dsn string, m *core.Manager, opts ...Option) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	drv := db.Driver()
	_ = db.Close()
	var base driver.Connector
	if dc, ok := drv.(driver.DriverContext); ok {
		if base, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	} else {
		base = dsnConnector{dsn: dsn, drv: drv}
	}
	c, err := NewConnector(base, m, opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// dsnConnector is database/sql's own connector for a driver without
// DriverContext.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (d dsnConnector) Connect(context.Context) (driver.Conn, error) { return d.drv.Open(d.dsn) }
func (d dsnConnector) Driver() driver.Driver                        { return d.drv }

// Connect implements driver.Connector: a connection of the base
// connector, wrapped.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	bc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return c.wrap(bc), nil
}

// Driver implements driver.Connector: the base driver, whose connections
// Open wraps.
func (c *Connector) Driver() driver.Driver { return wrappedDriver{c} }

// Close closes the base connector when it is an io.Closer, as sql.DB.Close
// does for a connector.
func (c *Connector) Close() error {
	if cl, ok := c.base.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Manager returns the Manager the results are cached with.
func (c *Connector) Manager() *core.Manager { return c.m }

// Name returns the name the results are memoized under (WithName).
func (c *Connector) Name() string { return c.cfg.name }

// InvalidateTables drops the cached results that read the named tables,
// in every process, as a write to them through the Connector does: for
// writes made around it (another program, a trigger, a migration).
func (c *Connector) InvalidateTables(ctx context.Context, tables ...string) error {
	tags := make([]string, 0, len(tables)+1)
	for _, t := range tables {
		if n := normalTable(t); n != "" {
			tags = append(tags, tableTag(n))
		}
	}
	tags = append(tags, unknownTag)
	return c.invalidate(ctx, tags)
}

// InvalidateAll drops every cached result of the Connector, in every
// process.
func (c *Connector) InvalidateAll(ctx context.Context) error {
	return c.memo.InvalidateAll(ctx)
}

type wrappedDriver struct{ c *Connector }

func (d wrappedDriver) Open(name string) (driver.Conn, error) {
	bc, err := d.c.base.Driver().Open(name)
	if err != nil {
		return nil, err
	}
	return d.c.wrap(bc), nil
}
