package filehash

import (
	"context"
	"io"
	"runtime"
	"sync"
)

// Job is one input: a path, or Reader for content such as standard input.
type Job struct {
	Path   string
	Reader io.Reader
	// Err is set for inputs that failed before hashing (a walk error, a
	// directory given without recursion); it is passed through in order.
	Err error
}

// Result is a Job's outcome.
type Result struct {
	Record Record
	Timing Timing
	Err    error
}

// Run hashes jobs on the given number of workers (0 = all cores) and calls
// emit with the results in the order the jobs arrived. At most a few times
// workers results are held, however many jobs there are. emit runs on the
// caller's goroutine; an error from it stops the run.
func Run(ctx context.Context, jobs <-chan Job, workers int, opts Options, emit func(Result) error) error {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	type slot struct {
		job Job
		out chan Result
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan slot)
	order := make(chan chan Result, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			h := New(opts)
			for s := range work {
				if s.job.Err != nil {
					s.out <- Result{Record: Record{Path: s.job.Path}, Err: s.job.Err}
					continue
				}
				var r Result
				if s.job.Reader != nil {
					r.Record, r.Timing, r.Err = h.Reader(s.job.Path, s.job.Reader, -1)
				} else {
					r.Record, r.Timing, r.Err = h.FileContext(ctx, s.job.Path)
				}
				s.out <- r
			}
		})
	}
	go func() {
		defer close(order)
		defer close(work)
		for {
			select {
			case <-ctx.Done():
				return
			case j, ok := <-jobs:
				if !ok {
					return
				}
				s := slot{job: j, out: make(chan Result, 1)}
				select {
				case order <- s.out:
				case <-ctx.Done():
					return
				}
				select {
				case work <- s:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var err error
	for out := range order {
		var r Result
		select {
		case r = <-out:
		case <-ctx.Done():
		}
		if err == nil && ctx.Err() == nil {
			err = emit(r)
		}
		if err != nil {
			cancel()
		}
	}
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}
