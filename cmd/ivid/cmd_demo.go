package main

import "github.com/spf13/cobra"

func newDemoCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "demo", Hidden: true}
}
