import type { ChatProvider } from './channel.js';
import { dingtalk } from './channels/dingtalk/index.js';
import { feishu } from './channels/feishu/index.js';
import { slack } from './channels/slack/index.js';
import { teams } from './channels/teams/index.js';
import { webhook } from './channels/webhook/index.js';
import { wecom } from './channels/wecom/index.js';

export const PROVIDER_IDS = ['slack', 'feishu', 'dingtalk', 'wecom', 'teams', 'webhook'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Every provider id must map to a complete provider: a new id without its folder is a compile error. */
export const PROVIDERS: { readonly [K in ProviderId]: ChatProvider<any> } = { slack, feishu, dingtalk, wecom, teams, webhook };
