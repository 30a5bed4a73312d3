/**
 * The Dcs port on Apache ZooKeeper (Curator).
 *
 * <p>Not implemented yet: this module only reserves its place in the build. See the open issues.
 */
package io.pgha.dcs.zookeeper;
