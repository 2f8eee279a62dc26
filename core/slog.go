package core

import (
	"context"
	"log/slog"
)

// LogErrors returns an [ErrorHandler] that writes each report to l at
// level Warn, with the message "redcache: cache trouble" and the
// attributes op, func, key, node (on a cluster), error and, when a
// [ThrottleErrors] or [SampleErrors] handler dropped reports before this
// one, suppressed. A nil l uses slog.Default(). The library never logs
// on its own: this is the handler to give [WithErrorHandler] for logs.
//
//	m := core.New(core.WithErrorHandler(
//		core.ThrottleErrors(core.LogErrors(logger), time.Second, 10)))
func LogErrors(l *slog.Logger) ErrorHandler {
	return func(ctx context.Context, err *Error) {
		logger := l
		if logger == nil {
			logger = slog.Default()
		}
		if !logger.Enabled(ctx, slog.LevelWarn) {
			return
		}
		attrs := make([]slog.Attr, 0, 6)
		attrs = append(attrs, slog.String("op", string(err.Op)))
		if err.Name != "" {
			attrs = append(attrs, slog.String("func", err.Name))
		}
		if err.Key != "" {
			attrs = append(attrs, slog.String("key", err.Key))
		}
		if err.Node != "" {
			attrs = append(attrs, slog.String("node", err.Node))
		}
		attrs = append(attrs, slog.Any("error", err.Err))
		if err.Suppressed > 0 {
			attrs = append(attrs, slog.Uint64("suppressed", err.Suppressed))
		}
		logger.LogAttrs(ctx, slog.LevelWarn, "redcache: cache trouble", attrs...)
	}
}
