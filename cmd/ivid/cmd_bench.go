package main

import "github.com/spf13/cobra"

func newBenchCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "bench", Hidden: true}
}
