// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One global of every struct and enum of the contract (tcpulse.h), so that
 * this object's BTF holds them all: bpf/gen/btf2ts.ts generates the user
 * side from it (a program object's BTF holds only what its code uses).
 * Never loaded. The generator fails when a type of tcpulse.h is missing here.
 */
#include "tcpulse.h"

enum hist_geometry contract_hist_geometry;
enum dir contract_dir;
enum side contract_side;
enum flow_flag contract_flow_flag;
struct flow_key contract_flow_key;
struct ts_state contract_ts_state;
struct rtt_stats contract_rtt_stats;
struct flow_stats contract_flow_stats;
enum stat contract_stat;
enum flow_event_type contract_flow_event_type;
struct flow_event contract_flow_event;
struct tcpulse_cfg contract_tcpulse_cfg;
struct sock_key contract_sock_key;
enum sock_flag contract_sock_flag;
enum close_reason contract_close_reason;
struct sock_summary contract_sock_summary;
struct sock_stats contract_sock_stats;
struct mptcp_key contract_mptcp_key;
struct mptcp_conn contract_mptcp_conn;
enum sock_event_type contract_sock_event_type;
struct sock_event contract_sock_event;
struct sock_closed_event contract_sock_closed_event;
enum sock_stat contract_sock_stat;
struct sock_cfg contract_sock_cfg;
enum qlog_cfg_flag contract_qlog_cfg_flag;
struct qlog_addr contract_qlog_addr;
enum qlog_rec_type contract_qlog_rec_type;
enum qlog_limits contract_qlog_limits;
struct qlog_packet contract_qlog_packet;
struct qlog_flow contract_qlog_flow;
struct qlog_sock_rec contract_qlog_sock_rec;
struct qlog_sock contract_qlog_sock;
