// Command tags is the program of the tags guide (docs/tags.md): a blog
// whose posts, author pages and rendered paths are cached in Redis, and
// made unreachable by tag when a table or a path changes, in every
// function and every process at once.
//
//	go run ./docs/examples/tags    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Post is a blog post.
type Post struct {
	ID     int
	Author string
	Title  string
}

// DB stands for a database with two tables, posts and authors. It prints
// every query, so that the output shows when a loader runs.
type DB struct {
	log     io.Writer
	posts   map[int]Post
	authors map[string]string // name -> bio
}

// Post reads one row of the posts table.
func (db *DB) Post(ctx context.Context, id int) (Post, error) {
	fmt.Fprintln(db.log, "  db: post", id)
	return db.posts[id], nil
}

// AuthorPage joins both tables: an author's bio and post titles.
func (db *DB) AuthorPage(ctx context.Context, author string) (string, error) {
	fmt.Fprintln(db.log, "  db: author page", author)
	page := author + ": " + db.authors[author]
	for id := 1; id <= len(db.posts); id++ {
		if p := db.posts[id]; p.Author == author {
			page += " | " + p.Title
		}
	}
	return page, nil
}

// Blog serves the blog, from Redis when it can.
type Blog struct {
	m      *core.Manager
	db     *DB
	post   *core.Memo[int, Post]
	author *core.Memo[string, string]
	render *core.Memo[string, string]
}

// NewBlog memoizes the blog's queries, each tagged with the tables it
// reads.
func NewBlog(m *core.Manager, db *DB) *Blog {
	b := &Blog{m: m, db: db}
	b.post = core.Memoize(m, "blog.post", db.Post, core.WithTags("table:posts"))
	b.author = core.Memoize(m, "blog.author", db.AuthorPage, core.WithTags("table:posts", "table:authors"))
	b.render = core.Memoize(m, "blog.render", b.renderPath)
	return b
}

// renderPath stands for a page handler: the path says what it shows.
func (b *Blog) renderPath(ctx context.Context, path string) (string, error) {
	fmt.Fprintln(b.db.log, "  render", path)
	return "<html>" + path + "</html>", nil
}

// Page renders path, cached; the value carries the tag of its section as
// well as the tables it reads, so that either purges it.
func (b *Blog) Page(ctx context.Context, section, path string) (string, error) {
	return b.render.Get(ctx, path, core.Tags("path:"+section, "table:posts"))
}

// Retitle writes to the posts table, then invalidates its tag: every
// cached value that read the table, in every function, is a miss from
// now on, in every process.
func (b *Blog) Retitle(ctx context.Context, id int, title string) error {
	p := b.db.posts[id]
	p.Title = title
	b.db.posts[id] = p
	return b.m.InvalidateTag(ctx, "table:posts")
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()

	m := core.New(core.WithDriver(d), core.WithPrefix("blog"), core.WithTTL(time.Hour))
	defer m.Close()
	db := &DB{log: w,
		posts:   map[int]Post{1: {1, "ann", "Hello"}, 2: {2, "bob", "Tags"}},
		authors: map[string]string{"ann": "writes", "bob": "reads"},
	}
	blog := NewBlog(m, db)

	show := func(what string, v any, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: %v\n", what, v)
		return nil
	}
	read := func() error {
		p, err := blog.post.Get(ctx, 1)
		if err := show("post 1", p.Title, err); err != nil {
			return err
		}
		a, err := blog.author.Get(ctx, "ann")
		if err := show("author", a, err); err != nil {
			return err
		}
		h, err := blog.Page(ctx, "/blog/", "/blog/ann")
		return show("page", h, err)
	}

	fmt.Fprintln(w, "first reads, misses:")
	if err := read(); err != nil {
		return err
	}
	fmt.Fprintln(w, "second reads, hits:")
	if err := read(); err != nil {
		return err
	}

	fmt.Fprintln(w, "a write to the posts table:")
	if err := blog.Retitle(ctx, 1, "Hello, tags"); err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}

	fmt.Fprintln(w, "the authors table changes: only the author page reloads")
	db.authors["ann"] = "writes a lot"
	if err := m.InvalidateTag(ctx, "table:authors"); err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}

	fmt.Fprintln(w, "purge a section of the site:")
	if err := blog.render.InvalidateTag(ctx, "path:/blog/"); err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}

	st := m.Stats()
	fmt.Fprintf(w, "stats: %d hits, %d misses\n", st.Hits, st.Misses)
	return nil
}

func main() {
	url, stop, err := devredis.URL()
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, url); err != nil {
		log.Fatal(err)
	}
}
