package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/hashset"
)

func newHashsetCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hashset",
		Short: "Import, export, convert and describe hash sets (VICS, ICSE CSV, CSV/TSV, PDQ, NSRL)",
	}
	cmd.AddCommand(newHashsetImportCommand(g), newHashsetExportCommand(g), newHashsetConvertCommand(g), newHashsetInfoCommand(g))
	return cmd
}

func formatHelp() string {
	var s []string
	for _, f := range hashset.Formats {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

// copySet streams entries from one file to another, converting formats.
func copySet(in string, from hashset.Format, out string, to hashset.Format, h func(hashset.Header) hashset.Header, strict bool, stdout, stderr io.Writer) error {
	hdr, r, c, err := hashset.Open(in, from)
	if err != nil {
		return err
	}
	defer c.Close()
	hdr = h(hdr)
	w := stdout
	var f *atomicFile
	if out != "" && out != "-" {
		if f, err = createAtomic(out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	sw, err := hashset.NewWriter(w, to, hdr)
	if err != nil {
		return usageError{err}
	}
	st, err := hashset.ReadAll(r, strict, sw.Write)
	if err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "ivid hashset: %d entries written", st.Read)
	if st.Skipped > 0 {
		fmt.Fprintf(stderr, ", %d malformed rows skipped:", st.Skipped)
		for _, e := range st.Errors {
			fmt.Fprintf(stderr, "\n  %v", e)
		}
	}
	fmt.Fprintln(stderr)
	return nil
}

func newHashsetImportCommand(g *globalOptions) *cobra.Command {
	var from, name, version, kind, out string
	var threshold int
	var strict bool
	cmd := &cobra.Command{
		Use:   "import FILE --out SET",
		Short: "Import a hash set file into ivid's own format (named, versioned)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			if kind != string(hashset.Known) && kind != string(hashset.KnownGood) {
				return usageError{fmt.Errorf("--kind must be known or known-good")}
			}
			return copySet(args[0], hashset.Format(from), out, hashset.FormatNative, func(h hashset.Header) hashset.Header {
				h.Source = args[0]
				if name != "" {
					h.Name = name
				}
				h.Version, h.Kind, h.PDQThreshold = version, hashset.Kind(kind), threshold
				h.Created = time.Now().UTC().Format(time.RFC3339)
				return h
			}, strict, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "format", "auto", "input format: auto, "+formatHelp())
	f.StringVar(&name, "name", "", "set name (default: the file name)")
	f.StringVar(&version, "version", "1", "set version")
	f.StringVar(&kind, "kind", "known", "known or known-good")
	f.IntVar(&threshold, "pdq-threshold", 0, "PDQ match threshold for this set (default 31)")
	f.StringVar(&out, "out", "", "the ivid set file to write")
	f.BoolVar(&strict, "strict", false, "abort on the first malformed row")
	return cmd
}

func newHashsetExportCommand(g *globalOptions) *cobra.Command {
	var to, out string
	cmd := &cobra.Command{
		Use:   "export SET --format vics|icse|csv|pdq [--out FILE]",
		Short: "Export a hash set in another format (standard output by default)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return copySet(args[0], hashset.FormatAuto, out, hashset.Format(to), func(h hashset.Header) hashset.Header { return h }, true, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&to, "format", "vics", "output format: "+formatHelp())
	cmd.Flags().StringVar(&out, "out", "-", "output file")
	return cmd
}

func newHashsetConvertCommand(g *globalOptions) *cobra.Command {
	var from, to string
	var strict bool
	cmd := &cobra.Command{
		Use:   "convert IN OUT --to FORMAT",
		Short: "Convert a hash set file between formats",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return copySet(args[0], hashset.Format(from), args[1], hashset.Format(to), func(h hashset.Header) hashset.Header { return h }, strict, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&from, "from", "auto", "input format")
	cmd.Flags().StringVar(&to, "to", "vics", "output format")
	cmd.Flags().BoolVar(&strict, "strict", false, "abort on the first malformed row")
	return cmd
}

func newHashsetInfoCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "info SET...",
		Short: "Describe hash sets: name, kind, counts per hash type and category",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHashsetInfo(cmd.Context(), args, g.stdout)
		},
	}
}

func runHashsetInfo(_ context.Context, paths []string, out io.Writer) error {
	for _, p := range paths {
		h, r, c, err := hashset.Open(p, hashset.FormatAuto)
		if err != nil {
			return err
		}
		var md5, sha1, sha256, pdqN, photodna, baseline int
		cats := map[hashset.Category]int{}
		st, err := hashset.ReadAll(r, false, func(e hashset.Entry) error {
			md5 += btoi(e.MD5 != "")
			sha1 += btoi(e.SHA1 != "")
			sha256 += btoi(e.SHA256 != "")
			pdqN += btoi(e.PDQ != nil)
			photodna += btoi(e.PhotoDNA != "")
			baseline += btoi(e.Baseline != nil && *e.Baseline)
			cats[e.Category]++
			return nil
		})
		c.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n  name %s  version %s  kind %s  format %s\n  entries %d (malformed rows skipped: %d)\n",
			p, h.Name, h.Version, h.Kind, h.Source, st.Read, st.Skipped)
		fmt.Fprintf(out, "  md5 %d  sha1 %d  sha256 %d  pdq %d  photodna %d  baseline %d\n", md5, sha1, sha256, pdqN, photodna, baseline)
		for _, k := range []hashset.Category{hashset.Uncategorised, 0, 1, 2, 3, 4} {
			if cats[k] > 0 {
				fmt.Fprintf(out, "  category %-38s %d\n", categoryLabel(k), cats[k])
			}
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
