#!/usr/bin/env python3
"""Build the binary (PDF/DOCX) and HTML documents of the sample Vybe knowledge base.

Writer B share: safety, creator monetisation, Vybe Shop, privacy & IP documents.
The content of every document is held below as structured Python data (title, metadata,
blocks of headings / paragraphs / numbered steps / bullet lists / tables). Running

    python scripts/build_kb_binaries.py

from the repository root (re)writes kb/<folder>/<file>.{pdf,docx,html} and the
<file>.meta.yaml sidecar next to each one. The output is deterministic: fixed dates and
metadata, reportlab invariant mode, fixed ZIP timestamps for DOCX.
"""
import html
import io
import os
import re
import sys
import zipfile
from datetime import datetime, timezone
from xml.sax.saxutils import escape as xml_escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KB = os.path.join(ROOT, "kb")

BUILD_DATETIME = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
AUTHOR = "Vybe Knowledge Management"

# ----------------------------------------------------------------------------------------
# Block constructors
# ----------------------------------------------------------------------------------------

def h1(t):
    return ("h1", t)


def h2(t):
    return ("h2", t)


def h3(t):
    return ("h3", t)


def p(t):
    return ("p", t)


def ol(*items):
    return ("ol", list(items))


def ul(*items):
    return ("ul", list(items))


def table(header, *rows):
    return ("table", (list(header), [list(r) for r in rows]))


def macro(*lines):
    """A canned reply body (HTML macro sets)."""
    return ("macro", list(lines))


def pagebreak():
    """Force a new page (PDF only; ignored by the other formats)."""
    return ("pb", None)


DOCS = []


def add_doc(path, meta, blocks):
    meta = dict(meta)
    meta.setdefault("language", "en")
    meta.setdefault("status", "active")
    DOCS.append({"path": path, "meta": meta, "blocks": blocks})


# ========================================================================================
# SAFETY
# ========================================================================================

add_doc(
    "sops/csam-escalation.pdf",
    {
        "title": "Child Safety: CSAM Escalation and Reporting SOP",
        "doc_type": "sop",
        "owner_team": "Child Safety Response Team (CSRT)",
        "markets": ["global"],
        "product_area": "safety",
        "version": "4.1",
        "effective_date": "2026-05-12",
        "review_date": "2027-05-12",
        "access_groups": ["tns-specialists"],
        "tags": ["child-safety", "csam", "ncmec", "evidence-preservation", "legal-hold", "guardian-queue"],
    },
    [
        h1("1. Purpose and scope"),
        p("This SOP tells Trust & Safety reviewers and specialists what to do when any surface of Vybe may contain "
          "child sexual abuse material (CSAM) or other child sexual exploitation (CSE) signals. It covers videos, "
          "photos, LIVE streams, comments, profile fields, direct messages that reach review, and Vybe Shop listings."),
        p("The procedure is deliberately mechanical. Reviewers classify, preserve and escalate; they do not investigate. "
          "All reporting to authorities is done by the Child Safety Response Team (CSRT), never by Tier 1 reviewers or "
          "frontline support agents."),
        p("CSE signals in scope include apparent CSAM, grooming behaviour towards a minor, sexualised comments directed "
          "at a minor, sextortion of a minor, and offers to trade or sell sexual content involving minors. Adult nudity "
          "and adult sexual content are out of scope unless the person appears to be under 18."),
        h2("1.1 Who uses this SOP"),
        ul("T&S Tier 1 reviewers working the Child Safety, LIVE and DM review queues.",
           "T&S Tier 2 specialists and the CSRT on-call specialist.",
           "Frontline support agents only for section 3.3 (what to do when a user reports child safety content in a support ticket)."),

        h1("2. Non-negotiable rules"),
        p("These rules apply in every case, in every market, and override any other instruction in a ticket, macro or "
          "chat message. Breaking them can itself be a criminal offence."),
        ol("Never download, save, screenshot, screen-record, print, forward or copy suspected CSAM to any device, chat, email or ticket attachment. The only permitted copy is the one Tessera writes to the Evidence Vault.",
           "Never view the full-resolution media when a hash-match label or the blurred preview is enough to classify it. Hash-matched items never need to be re-viewed.",
           "Never contact the reported account, and never tell the reporting user what action was taken beyond the standard acknowledgement macro.",
           "Never delete an account or piece of content that is in scope. Use Preserve & Restrict, which hides content and suspends the account without destroying evidence.",
           "Never describe the imagery in case notes. Use the classification label only (for example CSAM-A, CSAM-B, CSE-Grooming)."),
        p("If you accidentally receive suspected CSAM outside Tessera (for example as an email attachment or in a chat "
          "channel), do not forward it to anyone, including your team lead. Leave it where it is, note the location, and "
          "page the CSRT on-call. CSRT and Corporate Security will remove it under a documented procedure."),

        h1("3. Intake and triage"),
        h2("3.1 Intake sources"),
        ul("User reports filed under the Child safety reason (in-app, web and LIVE reports).",
           "Automatic hash-match alerts from the PhotoDNA, PDQ and internal Vybe hash banks.",
           "Proactive detection: the CSE classifier routes items with a score of 0.92 or above to the CSRT-Review queue.",
           "LIVE moderation escalations and LIVE Safety Interrupts.",
           "External referrals from NCMEC, INHOPE member hotlines, the IWF, the eSafety Commissioner and trusted flaggers."),
        h2("3.2 Priority levels"),
        p("Assign the priority from the table below when you set the Tessera case category. When two levels could "
          "apply, use the higher one."),
        table(["Priority", "When it applies", "Target to escalate", "Guardian queue"],
              ["P0", "Ongoing abuse, a child in imminent danger, or a LIVE stream in progress", "Immediately, plus phone page", "CSRT-Urgent"],
              ["P1", "Apparent CSAM, including known hash matches", "Within 1 hour of first review", "CSRT-Urgent"],
              ["P2", "Grooming or sextortion signals without imagery; sexualised comments at a minor", "Within 4 hours", "CSRT-Review"],
              ["P3", "Age-ambiguous adult nudity; drawn or generated content needing age assessment", "Within 24 hours", "CSRT-Review"]),
        h2("3.3 Reports that arrive in a support ticket"),
        p("Frontline agents who receive a ticket alleging child sexual abuse content must not open any links or "
          "attachments in the ticket. Tag the ticket CS-Child-Safety, transfer it to the Guardian queue CSRT-Review, and "
          "send the acknowledgement macro CS-Report-Received. The transfer removes the ticket from the frontline view."),
        p("If the reporter says a child is in danger right now, transfer to CSRT-Urgent instead and page csrt-oncall from "
          "the Tessera escalation panel. Do not wait for the reporter to send more information."),

        h1("4. Escalation procedure for reviewers"),
        p("Follow these steps in order for every in-scope item. The steps are built into the Tessera Child Safety "
          "workflow; do not skip a step even if the content has already been removed by another system."),
        ol("Classify from the blurred preview, the hash-match label and the metadata panel. Do not open the full-resolution media unless the item cannot be classified any other way, and never for hash matches.",
           "In Tessera, set the case category to CSE - Child Safety and the priority from the table in section 3.2. This automatically restricts the case to the tns-specialists access group.",
           "Click Preserve & Restrict. This hides the content from all users, suspends the account and its linked accounts, and writes a snapshot of the content and account data to the Evidence Vault.",
           "Escalate to the CSRT through the Guardian queue shown in the priority table. P1 cases must reach CSRT-Urgent within 1 hour of first review.",
           "For P0 cases, also page the CSRT on-call through the PagerDuty rotation csrt-oncall and stay on the case until a CSRT specialist acknowledges it.",
           "Write a factual case note: detection source, UTC timestamps, account IDs, linked accounts and the classification label. Do not describe the imagery.",
           "Leave the original user report open. It is linked to the case and closes automatically when the CSRT records the NCMEC report ID."),
        p("If Preserve & Restrict fails or times out, do not retry more than twice. Escalate the case to CSRT-Urgent with "
          "the note PRESERVATION FAILED so that a CSRT specialist can preserve it manually."),

        h1("5. Evidence preservation and legal hold"),
        p("Preserve & Restrict places a legal hold on the content, the account record, login and IP logs, device "
          "identifiers, payment records and direct message metadata of the reported account and any linked accounts."),
        p("The legal hold lasts 1 year from the date the NCMEC report is submitted, in line with the preservation period "
          "in 18 U.S.C. 2258A as amended by the REPORT Act. Legal Escalations can extend the hold when law enforcement asks "
          "for it; only Legal Escalations can lift a hold."),
        ul("Evidence Vault access is limited to CSRT and Legal Escalations, and every access is logged.",
           "Accounts under legal hold cannot be deleted. Data subject deletion requests for these accounts are paused without telling the requester why (see the DSAR Handling SOP).",
           "If a user appeals a suspension on an account under legal hold, route the appeal to CSRT-Review. Do not action it in the standard appeals queue.",
           "Do not restore hidden content, even if a user reports it was removed by mistake, until the CSRT closes the case."),

        h1("6. Reporting to NCMEC (CSRT only)"),
        p("Vybe Inc. is a US-based electronic service provider and reports all apparent CSAM found anywhere on the "
          "platform to the National Center for Missing & Exploited Children (NCMEC) through the CyberTipline. NCMEC routes "
          "each report to the relevant national law enforcement agency, so a report is required regardless of the user's market."),
        p("CSRT submits the CyberTipline report within 24 hours of confirming apparent CSAM. The 24-hour clock starts "
          "when the CSRT specialist confirms the classification in Tessera, not when the content was uploaded."),
        ol("Confirm the classification. Items that are not hash matches need a second CSRT reviewer before a report is filed.",
           "Generate the CyberTipline package from the Evidence Vault. The package includes the content, upload metadata, IP logs and account details required by the report form.",
           "Submit the report through the NCMEC CyberTipline API integration in Tessera.",
           "Record the NCMEC report ID in the Tessera field NCMEC Report ID. This closes the linked user reports and starts the 1-year hold period.",
           "If there is any indication that a child is in imminent danger, also contact law enforcement directly through the LERT emergency process in the Law Enforcement Data Request Handling SOP. Do not wait for NCMEC to act.",
           "Complete any additional market referral from the table in section 6.1 within the same 24 hours."),
        h2("6.1 Additional market referrals"),
        p("Some markets expect a referral in addition to the NCMEC report. These referrals are made by the CSRT and "
          "never replace the NCMEC report."),
        table(["Market", "Additional referral", "Made by"],
              ["GB", "IWF URL and hash referral; NCA notified through NCMEC", "CSRT"],
              ["AU", "eSafety Commissioner report for content accessible in Australia", "CSRT"],
              ["DE, FR and other EU", "Notification of suspicion of a criminal offence to the member state authority (DSA Article 18)", "CSRT with Legal Escalations"],
              ["KR", "Korea Communications Standards Commission notice for domestic URLs", "CSRT"],
              ["All other markets", "None beyond NCMEC", "-"]),

        h1("7. Grooming and sextortion without imagery"),
        p("When a minor reports that someone is threatening to share images of them, treat the case as P0 if the threats "
          "are ongoing and as P2 otherwise. Send the support macro CS-Sextortion-Support, which explains how to block and "
          "report the account and links to NCMEC's Take It Down service for removing images from participating platforms."),
        p("Do not ask the minor to send the images, screenshots of the images, or any description of them. Ask only for "
          "the usernames involved and the approximate date the contact started."),

        h1("8. Exceptions and edge cases"),
        h2("8.1 Disputed hash matches"),
        p("If Tessera shows the hash match as Disputed (part of a known false-positive cluster), route the case to "
          "CSRT-Review instead of CSRT-Urgent. Do not restore the content yourself; CSRT decides and restores it if appropriate."),
        h2("8.2 Adults who appear young"),
        p("Content showing adults who may appear to be under 18 is P3. CSRT carries out the age assessment. No NCMEC "
          "report is filed unless the CSRT confirms that the person appears to be a minor."),
        h2("8.3 Drawn, animated or AI-generated content"),
        p("Drawn, animated or AI-generated sexual content depicting minors violates Vybe policy in every market and is "
          "escalated as P1. Several markets, including GB and AU, also treat it as illegal, and CSRT decides on reporting."),

        h1("9. Reviewer wellbeing"),
        p("Reviewers on the CSRT-Urgent queue work a maximum of 2 hours per shift on that queue and take a 15-minute "
          "break every hour. Greyscale and blur are on by default. Confidential counselling is available through the "
          "Haven wellbeing program at any time, and a debrief with the CSRT lead is offered after every P0 case."),

        h1("10. Quality assurance and audit"),
        p("CSRT audits 10% of closed child safety cases every month. Any report that misses the 24-hour NCMEC target is "
          "reported to Legal Escalations within 1 business day with a short root-cause note."),
        p("Questions about this SOP go to the CSRT lead in the #tns-child-safety channel. Do not paste case content, "
          "links or account IDs into that channel; use Tessera case links only."),
    ],
)

add_doc(
    "sops/self-harm-risk-response.pdf",
    {
        "title": "Self-Harm and Suicide Risk Response SOP",
        "doc_type": "sop",
        "owner_team": "T&S Wellbeing Response",
        "markets": ["global"],
        "product_area": "safety",
        "version": "2.3",
        "effective_date": "2026-02-01",
        "review_date": "2026-08-01",
        "access_groups": ["tns-specialists", "all-agents"],
        "tags": ["self-harm", "suicide", "imminent-risk", "helplines", "emergency-services", "wellbeing"],
    },
    [
        h1("1. Purpose and scope"),
        p("This SOP covers how support agents and Trust & Safety specialists respond when a Vybe user may be at risk of "
          "self-harm or suicide. It applies to support tickets, in-app chats with support, LIVE streams, videos, comments "
          "and reports from other users about someone they are worried about."),
        p("Our goal is to connect the person with help as quickly as possible. Removing content is secondary. Every agent "
          "can start this procedure; only Tier 2 Wellbeing Response specialists contact emergency services."),

        h1("2. Risk levels"),
        p("Decide the risk level from what the person has said or shown. If you are unsure between two levels, choose the "
          "higher one. You will never be criticised for escalating a case that turns out to be lower risk."),
        table(["Level", "Signals", "Response"],
              ["Level 1 - Imminent risk", "Stated intent with a plan, means or timeframe; an attempt in progress on LIVE; a goodbye message with a time", "Section 3, emergency services may be contacted"],
              ["Level 2 - Elevated risk", "Suicidal thoughts or self-harm urges without a plan or timeframe", "Section 5, resources and Tier 2 review"],
              ["Level 3 - Concern", "Content that discusses, glorifies or promotes self-harm; recovery stories", "Content policy review only"]),
        p("If the user is or appears to be under 18, treat any Level 2 signal as Level 1 for routing purposes. Tier 2 "
          "then decides whether emergency services are needed."),

        h1("3. Imminent risk procedure (Level 1)"),
        p("Work through the steps in order. Steps 1 to 3 can be done by any agent or reviewer. Steps 4 to 8 are done by "
          "the Tier 2 Wellbeing Response specialist who accepts the page."),
        ol("Stay with the case. Do not close it, transfer it to another queue or hand it to a colleague without a verbal or chat handover that the colleague acknowledges.",
           "In Tessera, flag the case Imminent Risk - Self-Harm. The flag sets priority P0 and pages the Wellbeing Response on-call through the Guardian queue WB-Imminent.",
           "If the person is on LIVE, use Safety Interrupt to end the stream. Safety Interrupt is not a ban: it ends the stream, shows the person a full-screen support resources card and keeps the account active.",
           "Open the Emergency Locate panel in Tessera to see the account region, the city-level IP location of the last session and any phone number on file. Only Tier 2 specialists can open Emergency Locate, and every use is logged.",
           "Contact emergency services for the user's market within 15 minutes of the Imminent Risk flag, using the numbers in section 4. Share only what responders need: username, display name, last known location, phone number if on file, and a short factual description of the risk.",
           "Send the in-app Safety Resources card with the helpline for the user's market, even if you have already contacted emergency services.",
           "Record the time of contact, the agency or control room name and any reference number in the case. Log the disclosure as an emergency disclosure so that LERT and Legal Escalations can review it.",
           "Check the account activity after 24 hours. The case is closed only after a Wellbeing Response specialist confirms that no further action is needed."),
        p("If you cannot determine the market or location, do not delay: send the Safety Resources card with the "
          "international directory (Find A Helpline) and escalate to the LERT on-call, who can ask the app store or "
          "network provider for location data through emergency channels."),

        h1("4. Emergency services and helplines by market"),
        p("Use the emergency number to reach police or ambulance services. Use the helpline in the Safety Resources card "
          "and in replies to the user. Numbers were last verified on 2026-01-15 and are re-verified every quarter by "
          "Wellbeing Response."),
        table(["Market", "Emergency number", "Crisis helpline", "Helpline contact"],
              ["US", "911", "988 Suicide & Crisis Lifeline", "Call or text 988"],
              ["GB", "999", "Samaritans", "116 123 (free, 24/7)"],
              ["DE", "112", "TelefonSeelsorge", "0800 111 0 111 or 0800 111 0 222"],
              ["FR", "112 (or 15 for SAMU)", "Numero national de prevention du suicide", "3114"],
              ["BR", "192 (SAMU) or 190 (police)", "CVV - Centro de Valorizacao da Vida", "188"],
              ["IN", "112", "Tele-MANAS", "14416"],
              ["ID", "112", "Kemenkes mental health line", "119 ext. 8"],
              ["MY", "999", "Befrienders KL / Talian HEAL", "03-7627 2929 / 15555"],
              ["JP", "110 (police) or 119 (ambulance)", "Yorisoi Hotline", "0120-279-338"],
              ["KR", "112 (police) or 119 (ambulance)", "Suicide prevention hotline", "109"],
              ["AU", "000", "Lifeline", "13 11 14"],
              ["MX", "911", "Linea de la Vida", "800 911 2000"],
              ["Other / unknown", "112 or 911", "Find A Helpline directory", "findahelpline.com"]),
        p("Emergency numbers reach a control room in the user's country. When you call from outside that country, use "
          "the international emergency contact list in the Wellbeing Response runbook instead of dialling the short number."),

        h1("5. Elevated risk procedure (Level 2)"),
        ol("Reply with the macro WB-Support-Resources. It includes the local helpline from section 4 and the in-app Safety Resources card.",
           "Set the Tessera category Wellbeing - Elevated Risk. This routes the case to the Guardian queue WB-Review for a Tier 2 review within 4 hours.",
           "Do not remove the content unless it breaks the self-harm content policy. Recovery-oriented content stays up but is excluded from the For You feed.",
           "If the person replies with a plan, a method or a timeframe, move the case to Level 1 immediately and follow section 3."),

        h1("6. Talking to a person at risk"),
        p("Be calm, direct and kind. Use the person's name, acknowledge what they told you and tell them that help is "
          "available right now. Short sentences work best."),
        ul("Do say: I'm really glad you told us. You deserve support right now, and you can talk to someone today.",
           "Do share the helpline and say that it is free and confidential where that is true for the market.",
           "Do not promise confidentiality. Say that we may contact emergency services if we believe someone is in danger.",
           "Do not argue, judge, or ask for details of methods.",
           "Avoid the phrase committed suicide; say died by suicide or took their own life."),

        h1("7. Reports from friends and other users"),
        p("When a user reports that someone else is at risk, thank them, tell them that we are reviewing the account, and "
          "encourage them to contact local emergency services if they believe the person is in immediate danger. Never "
          "tell the reporter what action we took on the other person's account."),
        p("Assess the reported account using the same risk levels. A third-party report alone is enough to open a Level 1 "
          "case if it includes a plan or timeframe."),

        h1("8. Exceptions and related procedures"),
        ul("Challenges and hoaxes that encourage self-harm (for example a viral challenge) are handled under the Dangerous Challenges and Trends Response Playbook; individual users at risk are still handled here.",
           "Threats to harm other people are not self-harm cases. Escalate credible threats of violence to LERT under the Law Enforcement Data Request Handling SOP.",
           "If the person is in a market where Vybe has no verified emergency contact, Tier 2 escalates to the LERT on-call within 30 minutes."),

        h1("9. Agent wellbeing"),
        p("These cases are hard. After any Level 1 case you may take a 20-minute break off the queue without asking. "
          "Debriefs with a Wellbeing Response lead and confidential counselling through the Haven program are always "
          "available. Tell your team lead if a case stays with you."),
    ],
)

add_doc(
    "policies/violent-extremism.pdf",
    {
        "title": "Violent Extremism and Terrorist Content Policy",
        "doc_type": "policy",
        "owner_team": "T&S Policy",
        "markets": ["global"],
        "product_area": "safety",
        "version": "3.0",
        "effective_date": "2026-01-20",
        "review_date": "2027-01-20",
        "access_groups": ["tns-specialists"],
        "tags": ["violent-extremism", "terrorism", "dangerous-organisations", "gifct", "crisis-protocol", "tco"],
    },
    [
        h1("1. Purpose"),
        p("Vybe does not allow violent extremist or terrorist organisations, or people who support them, to use the "
          "platform. This policy defines what we remove, what we allow with context, how we enforce, and how we respond "
          "to real-world attacks that have an online component."),
        p("The policy applies to all surfaces: videos, photos, LIVE, comments, captions, hashtags, sounds, usernames, "
          "profile images, direct messages that reach review, and Vybe Shop listings."),

        h1("2. Definitions"),
        h2("2.1 Dangerous Organisations List"),
        p("T&S Policy maintains the Vybe Dangerous Organisations List (DOL). Reviewers see the DOL tier of a matched "
          "entity in the Tessera entity panel. Do not add entities yourself; send proposals to T&S Policy through the "
          "DOL-Proposal form."),
        table(["DOL tier", "Who is on it", "Examples of basis"],
              ["Tier 1", "Terrorist organisations and their named leaders", "UN, US, EU or UK terrorist designations; GIFCT hash-sharing list"],
              ["Tier 2", "Violent hate groups and armed militias", "Vybe research, credible NGO and academic sources"],
              ["Tier 3", "Violent conspiracy networks", "Documented offline violence linked to the network"]),
        h2("2.2 Key terms"),
        ul("Praise: content that speaks positively about a DOL entity or its violence.",
           "Support: content that helps a DOL entity, such as fundraising, recruitment, or sharing its official media.",
           "Representation: an account that claims to be or to speak for a DOL entity.",
           "Perpetrator-produced content: manifestos, livestreams, recordings or writings produced by the attacker of a violent attack."),

        h1("3. What we remove"),
        ul("Praise, support or representation of any Tier 1 or Tier 2 entity.",
           "Recruitment, calls to join, or calls to travel to join a violent group.",
           "Instructions for making weapons or explosives, or for planning attacks.",
           "Perpetrator-produced content of violent attacks, in full or in part, including re-uploads with added commentary.",
           "Symbols, logos, flags or slogans of Tier 1 or Tier 2 entities shared without a clear condemning, news or educational context.",
           "Fundraising for DOL entities, including through LIVE gifts or Vybe Shop sales."),

        h1("4. What we allow with context"),
        p("We allow discussion of violent extremism for educational, documentary, scientific or newsworthy purposes "
          "(EDSN), and counter-speech that condemns it. The context must be clear from the content itself, its caption or "
          "its spoken commentary, not only from the account's bio."),
        p("EDSN content that shows DOL symbols or footage is restricted to viewers aged 18 and over and is not eligible "
          "for the For You feed. Perpetrator-produced footage of an attack is never allowed, even for news organisations, "
          "except still images that do not show violence or victims."),

        h1("5. Enforcement"),
        p("Enforcement is account-level for the most severe violations. Use the Tessera action that matches the table; "
          "the strike and restriction logic is applied automatically."),
        table(["Violation", "Action"],
              ["Perpetrator-produced attack content", "Remove; permanent ban; hash to the GIFCT hash-sharing database"],
              ["Representation of, or recruitment for, a Tier 1 entity", "Remove; permanent ban"],
              ["Praise or support of a Tier 1 or Tier 2 entity", "Remove; 7-day posting restriction; permanent ban on the third violation within 90 days"],
              ["DOL symbols without context", "Remove; warning on the first violation"],
              ["Tier 3 content", "Remove; reduce distribution of the account for 30 days"]),
        p("Accounts banned under this policy may not create new accounts. Tessera links new accounts to a banned account "
          "by device and payment signals; reviewers ban linked accounts with the Ban Evasion - VE action."),

        h1("6. Review and escalation procedure"),
        ol("Check the Tessera entity panel for a DOL match and the hash-match panel for a GIFCT or internal hash match.",
           "Apply the enforcement action from section 5. When the content matches a hash, the action is applied without further review.",
           "If the content involves a Tier 1 entity, a planned attack, or a new piece of perpetrator-produced content that is not yet in the hash bank, escalate to T&S Tier 2 through the Guardian queue VE-Priority within 1 hour.",
           "If the content contains a credible, specific threat of violence (a target, time or place), escalate as P0 to the LERT on-call through the Guardian queue LERT-Emergency immediately. Do not wait for a Tier 2 review.",
           "Preserve the content with Preserve & Restrict before removal whenever you escalate to LERT, so that it can be disclosed lawfully later."),

        h1("7. Crisis response"),
        p("When a violent attack happens offline and footage or perpetrator content is spreading online, the T&S Crisis "
          "Lead can declare a Vybe Content Incident. A Content Incident is declared in the #tns-crisis channel and "
          "recorded in Tessera as a Crisis case."),
        ol("The Crisis Lead confirms whether the Global Internet Forum to Counter Terrorism (GIFCT) has activated its Content Incident Protocol, and joins the shared response.",
           "T&S Tier 2 adds hashes of the perpetrator content to the internal hash bank and shares them with GIFCT within 2 hours of the Content Incident being declared.",
           "Search interventions are applied to the attacker's name and known hashtags, showing a notice and reliable news sources instead of results.",
           "LIVE creation may be limited for new accounts in the affected region for up to 72 hours.",
           "Reviewers are moved onto the Crisis queue; normal queue targets are paused for the duration."),
        p("The Crisis Lead closes the Content Incident when new uploads fall below 10 per hour for 24 hours, and writes a "
          "post-incident review within 5 business days."),

        h1("8. Legal removal orders"),
        p("Some laws set fixed deadlines for removing terrorist content once an authority orders it. These orders arrive "
          "through the Law Enforcement Portal and are routed to VE-Priority; frontline agents never handle them."),
        table(["Jurisdiction", "Instrument", "Deadline"],
              ["EU", "Removal order under the Terrorist Content Online Regulation (EU) 2021/784", "Remove or disable access within 1 hour of receipt"],
              ["GB", "Online Safety Act duties and police referrals", "Remove swiftly; target 24 hours for referrals"],
              ["AU", "eSafety Commissioner removal notice", "Within 24 hours, unless a longer period is specified"]),
        p("For EU removal orders under the Terrorist Content Online Regulation, the content must be removed or disabled "
          "in all EU member states within 1 hour of receipt, around the clock. Legal Escalations must be notified of "
          "every order so that the required transparency records are kept."),

        h1("9. Appeals"),
        p("Appeals of removals or bans under this policy are reviewed only by T&S Tier 2 specialists, never by the general "
          "appeals queue. Content removed through a GIFCT hash match is restored only if T&S Tier 2 confirms the match was "
          "wrong; the hash is then flagged to GIFCT as disputed."),

        h1("10. Exceptions"),
        ul("Verified government, NGO and research accounts on the EDSN allowlist may post DOL material for counter-terrorism research, but it is always restricted to 18+ and never recommended.",
           "Historical content about groups that no longer exist and documentaries about historic conflicts are allowed when they do not praise violence.",
           "Satire that mocks a DOL entity is allowed if the mocking intent is clear; if you are unsure, escalate to VE-Priority rather than leaving the content up."),
    ],
)

add_doc(
    "sops/law-enforcement-requests.pdf",
    {
        "title": "Law Enforcement Data Request Handling SOP",
        "doc_type": "sop",
        "owner_team": "Law Enforcement Response Team (LERT)",
        "markets": ["global"],
        "product_area": "safety",
        "version": "5.0",
        "effective_date": "2026-04-01",
        "review_date": "2027-04-01",
        "access_groups": ["legal-escalations", "tns-specialists"],
        "tags": ["law-enforcement", "emergency-disclosure", "preservation", "legal-process", "lert"],
    },
    [
        h1("1. Purpose and scope"),
        p("This SOP describes how Vybe receives, validates and answers requests from police, prosecutors, courts and other "
          "government agencies for user data, for preservation of data, and for emergency disclosure. It is owned by the "
          "Law Enforcement Response Team (LERT). Legal Escalations approves every disclosure of content and every request "
          "that falls outside the standard categories in section 3."),
        p("Frontline support agents never answer law enforcement requests themselves. Their only task is to route the "
          "request correctly, as described in section 2.2."),

        h1("2. Intake"),
        h2("2.1 Accepted channels"),
        ul("The Vybe Law Enforcement Portal (LEP), which is the preferred channel for all agencies and includes a 24/7 Emergency option.",
           "The lert@vybe.example mailbox for agencies that cannot use the portal.",
           "Postal service of legal process at the registered office of Vybe Inc. or the relevant local Vybe entity.",
           "Regulator and court orders forwarded by Legal Escalations."),
        h2("2.2 Requests that arrive in a support ticket or by phone"),
        ol("Do not confirm or deny that an account exists, and do not share any account information, even basic details such as the username or sign-up date.",
           "Tag the ticket LE-Request and transfer it to the LERT queue in Tessera.",
           "Reply with the macro LE-Redirect, which gives the Law Enforcement Portal address and explains that requests must come through it.",
           "If the requester says that someone is in immediate danger, tell them to use the Emergency option on the portal, which pages the LERT on-call 24/7, and transfer the ticket to the Guardian queue LERT-Emergency as well."),
        p("If a caller says they are a police officer, do not try to verify them yourself. The same rules apply to "
          "callers who say they are lawyers, school staff or parents asking for someone else's data."),

        h1("3. Request types and response targets"),
        p("Response targets are counted from the time a valid request is received through an accepted channel. The "
          "clock does not start for requests that fail validation (section 4)."),
        table(["Request type", "What it can obtain", "Target"],
              ["Preservation request", "Snapshot of account data held for 90 days, extendable once by 90 days", "2 business days"],
              ["Subpoena or equivalent", "Basic subscriber information (name, email, phone, sign-up IP and date)", "10 business days"],
              ["Court order (for example 18 U.S.C. 2703(d))", "Non-content records such as login IP logs and device data", "15 business days"],
              ["Search warrant", "Content such as videos, drafts and direct messages", "15 business days"],
              ["Emergency disclosure request", "Minimum data needed to prevent death or serious injury", "Acknowledge in 30 minutes; decide within 2 hours"],
              ["European Production Order (EU e-Evidence)", "Subscriber, traffic or content data", "10 days; emergency orders 8 hours"]),

        h1("4. Validation checklist"),
        p("LERT validates every request before any data is gathered. A request that fails any of these checks is "
          "returned to the agency with the reason; it is not partly answered."),
        ol("The request comes from a recognised government authority through an accepted channel, from an official domain or the verified LEP account of that authority.",
           "The legal basis is stated and matches the data requested (for example, content requires a search warrant or an equivalent order in the US).",
           "The request names specific accounts by username, user ID or URL. Requests for all users matching a keyword, location or hashtag are escalated to Legal Escalations.",
           "The date range is stated and proportionate.",
           "The request is signed or otherwise authenticated by the issuing officer, prosecutor or judge."),

        h1("5. Emergency disclosure requests"),
        p("An emergency disclosure request (EDR) is a request to disclose data without legal process because there is a "
          "risk of death or serious physical injury that cannot wait. In the US, voluntary disclosure is permitted under "
          "18 U.S.C. 2702(b)(8) and (c)(4); in the EU and GB, the vital interests basis in GDPR Article 6(1)(d) applies."),
        ol("Route the request to the LERT on-call immediately through the Guardian queue LERT-Emergency and page the PagerDuty rotation lert-oncall.",
           "LERT verifies the requester by calling the agency back on its published switchboard number, never on a number supplied in the request.",
           "LERT assesses whether the facts describe an imminent risk of death or serious physical injury. A general investigative need is not an emergency.",
           "LERT discloses only the minimum data needed to address the emergency: basic subscriber information, recent login IP addresses and last known location signals. Disclosure of content requires approval from the Legal Escalations on-call.",
           "LERT records the decision, the data disclosed and the justification in the Tessera EDR form. Legal Escalations reviews every EDR disclosure within 1 business day.",
           "LERT asks the agency to follow up with formal legal process within 14 days, and notes on the case whether it arrived."),
        p("Self-harm cases escalated by Wellbeing Response and child safety cases escalated by the CSRT follow the same "
          "emergency steps. In those cases the emergency is usually reported by Vybe to the authority rather than "
          "requested by the authority, and the disclosure is logged in the same EDR form."),

        h1("6. Preservation"),
        p("A preservation request freezes a snapshot of the account data so that it is not deleted while the agency "
          "obtains legal process. Preservation does not disclose anything. LERT applies the preservation hold in Tessera, "
          "which blocks deletion of the account, including through data subject deletion requests, for 90 days."),
        p("An agency may extend a preservation once for another 90 days. Holds created for CSAM reports follow the 1-year "
          "period in the Child Safety CSAM Escalation and Reporting SOP and are not managed by this section."),

        h1("7. User notice"),
        p("Vybe's policy is to notify users before disclosing their data in response to legal process, so that they can "
          "seek legal advice. LERT sends the notice from the lert-notices mailbox. Frontline agents never tell a user "
          "about a request, even if the user asks directly whether police have contacted Vybe."),
        p("We do not give notice when it is prohibited by a non-disclosure order or by law, in emergency disclosures, in "
          "child safety cases, or when notice would put someone at risk. Where a non-disclosure order expires, LERT sends "
          "the delayed notice within 30 days of expiry."),

        h1("8. International requests"),
        table(["Origin", "How content can be obtained", "Notes"],
              ["US", "Search warrant", "Non-content records with subpoena or 2703(d) order"],
              ["GB and AU", "Overseas production order under the US CLOUD Act agreement, or MLAT", "Subscriber data may be disclosed voluntarily on a valid local request"],
              ["EU member states", "European Production Order (from 18 August 2026) or MLAT", "10 days; 8 hours for emergencies"],
              ["IN", "Order under the IT Rules 2021 or BNSS Section 94 notice", "Information to be provided within 72 hours of an IT Rules order; handled by the India Nodal Officer"],
              ["BR", "Court order under the Marco Civil da Internet", "Connection and access logs are retained for 6 months"],
              ["Other markets", "MLAT through the US Department of Justice", "Subscriber data may be disclosed voluntarily at LERT discretion"]),
        p("Requests from a government that is not recognised by the US, or from an authority in a country subject to "
          "sanctions, are never answered by LERT and are escalated to Legal Escalations on receipt."),

        h1("9. When to escalate to Legal Escalations"),
        ul("Any request for the content of communications from outside the US.",
           "Requests about journalists, elected officials, candidates for office, or human rights defenders.",
           "Non-disclosure orders longer than 1 year, or with no end date.",
           "Requests for Vybe Shop payment card data or seller tax records.",
           "Requests that seem to target a group of people based on protected characteristics.",
           "Any request where the requester threatens an employee with arrest or penalties."),
        p("Escalate through the Tessera action Escalate to Legal with the full request attached. Legal Escalations "
          "acknowledges within 4 business hours and owns the response from that point."),

        h1("10. Records and transparency"),
        p("Every request, the data disclosed and the response time is recorded in the Tessera LE register. The register "
          "feeds the semi-annual Government Requests Transparency Report, published in March and September."),
    ],
)

# ========================================================================================
# CREATOR MONETISATION
# ========================================================================================

add_doc(
    "policies/creator-rewards-payouts.pdf",
    {
        "title": "Creator Rewards Program: Eligibility and Payouts Policy",
        "doc_type": "policy",
        "owner_team": "Creator Monetisation Ops",
        "markets": ["US", "GB", "DE", "FR", "BR", "IN", "ID", "MY", "JP", "KR", "AU", "MX"],
        "product_area": "creator-monetization",
        "version": "2.0",
        "effective_date": "2026-07-01",
        "review_date": "2027-07-01",
        "access_groups": ["creator-support", "payments-support"],
        "tags": ["creator-rewards", "payouts", "thresholds", "eligibility", "diamonds", "tax-forms"],
    },
    [
        h1("1. Overview"),
        p("The Creator Rewards Program (CRP) pays eligible creators for qualified views of their original videos. It "
          "replaced the Creator Fund on 1 March 2025; Creator Fund balances were migrated to the CRP Rewards Balance and "
          "follow this policy."),
        p("This policy sets out who can join, how earnings are calculated and finalised, the payout thresholds and "
          "schedules in each market, tax requirements, and when earnings can be withheld or reversed. It also covers the "
          "payout of Diamonds earned from LIVE gifts, which use the same payout rails."),

        h1("2. Eligibility"),
        h2("2.1 Requirements to join"),
        ul("The creator is at least 18 years old (19 in KR).",
           "The account has at least 10,000 followers and at least 100,000 video views in the last 30 days.",
           "The account is a personal account. Business, government and political party accounts cannot join.",
           "The creator lives in a supported market (section 4) and the account region matches that market.",
           "The account has no active Community Guidelines restrictions at the time of application."),
        h2("2.2 Staying eligible"),
        p("Eligibility is checked again every 30 days. A creator whose account falls below the follower or view "
          "requirement stays in the program for a 60-day grace period. Earnings stop accruing if the creator is still "
          "below the requirements when the grace period ends, but the existing balance remains payable."),

        h1("3. Qualified views and earnings"),
        p("Only original videos longer than 1 minute earn rewards. A qualified view is a view of at least 5 seconds from "
          "the For You feed by a unique viewer, excluding views from ads, paid promotion, the creator's own account and "
          "views flagged as invalid traffic."),
        p("Estimated earnings appear in Creator Tools daily, about 48 hours after the views occur. Earnings for a calendar "
          "month are finalised on the 10th day of the following month, the statement date. Only finalised earnings are "
          "added to the withdrawable Rewards Balance."),
        p("The revenue per thousand qualified views (RPM) varies by market, audience, and video search value. Agents "
          "must not quote RPM figures to creators or promise a specific amount."),

        pagebreak(),
        h1("4. Payout thresholds and schedules by market"),
        p("A payout is made when the finalised Rewards Balance is at or above the market's minimum threshold on the "
          "statement date. Balances below the threshold roll over to the next month and never expire while the account "
          "remains active."),
        table(["Market", "Currency", "Minimum threshold", "Payout date", "Payout methods"],
              ["US", "USD", "USD 10", "By the 15th of the following month", "ACH bank transfer, PayPal"],
              ["GB", "GBP", "GBP 10", "By the 15th", "Faster Payments bank transfer, PayPal"],
              ["DE", "EUR", "EUR 10", "By the 20th", "SEPA bank transfer, PayPal"],
              ["FR", "EUR", "EUR 10", "By the 20th", "SEPA bank transfer, PayPal"],
              ["BR", "BRL", "BRL 50", "By the 20th", "PIX, bank transfer"],
              ["IN", "INR", "INR 1,000", "By the 25th", "Bank transfer (NEFT/IMPS)"],
              ["ID", "IDR", "IDR 150,000", "By the 25th", "Bank transfer, DANA"],
              ["MY", "MYR", "MYR 50", "By the 25th", "DuitNow bank transfer"],
              ["JP", "JPY", "JPY 1,500", "By the 20th", "Domestic bank transfer"],
              ["KR", "KRW", "KRW 15,000", "By the 20th", "Domestic bank transfer"],
              ["AU", "AUD", "AUD 15", "By the 15th", "Bank transfer, PayPal"],
              ["MX", "MXN", "MXN 200", "By the 25th", "SPEI bank transfer"]),
        p("If the payout date falls on a weekend or a bank holiday in the payout market, the payout is sent on the next "
          "business day. After the payout is sent, bank transfers usually arrive within 3 to 5 business days and PayPal "
          "payouts within 1 to 2 business days."),
        h2("4.1 Automatic and manual withdrawals"),
        p("Automatic monthly payout is on by default. A creator who turns it off withdraws manually from Creator Tools > "
          "Rewards Balance > Withdraw. A single withdrawal cannot exceed USD 50,000 or the local equivalent; larger "
          "balances are paid in several transfers."),
        h2("4.2 Fees and currency conversion"),
        p("Vybe does not charge a fee for bank transfers. PayPal fees, and any fees charged by the creator's bank, are "
          "paid by the creator. Earnings are calculated in USD and converted to the payout currency at the Vybe daily "
          "reference rate on the statement date."),

        h1("5. Tax information"),
        p("Creators must submit valid tax information before their first payout. US persons submit Form W-9. Non-US "
          "individuals submit Form W-8BEN, and non-US entities submit Form W-8BEN-E, in Creator Tools > Payouts > Tax info."),
        p("While tax information is missing or invalid, payouts are held with the status On hold - tax and the balance "
          "keeps accruing. Held payouts are released in the next payout run after the form is validated."),
        ul("US persons who do not provide a valid taxpayer identification number are subject to 24% backup withholding.",
           "Non-US creators are subject to 30% US withholding on the US-source portion of their earnings unless a tax treaty rate is claimed on Form W-8BEN.",
           "IN creators must add a PAN. Without a PAN, TDS is deducted at 20%.",
           "BR creators must provide a CPF that matches the name on the receiving bank or PIX account."),
        p("Agents must not give tax advice. Send creators the Creator Tax Forms FAQ and tell them to contact a tax "
          "adviser for questions about their own situation."),

        h1("6. LIVE gifts and Diamonds"),
        p("Creators who receive gifts on LIVE earn Diamonds. Diamonds are converted to money at USD 0.005 per Diamond and "
          "are paid out through the same methods and minimum thresholds as the Rewards Balance in section 4."),
        p("Diamonds become withdrawable 15 days after the gift is received. This hold period lets Vybe reverse gifts "
          "bought with fraudulent or refunded coins before the money leaves the platform."),
        p("Diamonds from LIVE gifts and the Rewards Balance are shown separately in Creator Tools but are paid in the "
          "same monthly transfer when automatic payout is on."),

        h1("7. Withheld earnings and clawbacks"),
        ul("Earnings from views or gifts found to be invalid traffic, fraud or manipulation are voided before payout.",
           "Vybe may claw back paid earnings up to 90 days after payment if fraud is confirmed; the amount is deducted from future earnings first.",
           "Earnings from a video removed for a Community Guidelines violation are voided for the whole period the video was live.",
           "Payouts to accounts under a legal hold or sanctions review are paused until Payments Compliance clears them."),

        h1("8. Leaving the program"),
        p("A creator can leave the CRP at any time in Creator Tools. Vybe may remove a creator for breaking the program "
          "terms. In both cases, any finalised balance at or above the market threshold is paid in a final payout within "
          "60 days. A final balance below the threshold is paid once it has been held for 180 days, regardless of the threshold."),

        h1("9. Exceptions"),
        ul("KR creators must be at least 19 years old to join, in line with the age of majority in Korea.",
           "Creators who move to another supported market must update their account region and tax information; earnings stay in the original currency until the next statement date.",
           "Creators in markets not listed in section 4 cannot join the CRP, even if they meet every other requirement.",
           "If a creator has died, do not process any payout changes. Escalate to Legal Escalations, who handle estate claims."),

        h1("10. Escalation"),
        p("Payout problems are handled with the Creator Payout Troubleshooting SOP. Escalate disputes about eligibility "
          "decisions to Creator Monetisation Ops through the Tessera category CRP - Eligibility Review; the team responds "
          "within 5 business days."),
    ],
)

# ========================================================================================
# VYBE SHOP
# ========================================================================================

def shop_returns_blocks(v):
    """Vybe Shop Returns and Refunds Policy. v = 1 (superseded 1.4) or 2 (current 2.0)."""
    cur = v == 2
    b = []
    b += [
        h1("1. Purpose and scope"),
        p("This policy sets out when buyers can return items bought on Vybe Shop, how refunds are issued, and which "
          "items cannot be returned. It applies to all orders placed through Vybe Shop, including orders placed from "
          "LIVE Shopping and shoppable videos, and to every seller on the platform."),
        p("Sellers may offer a longer return window than this policy, but never a shorter one. Where local consumer law "
          "gives the buyer more rights than this policy, the law applies."),
    ]
    if cur:
        b += [
            h2("1.1 What changed in version 2.0"),
            ul("Return windows were extended in most markets (section 2).",
               "BR was added as a Vybe Shop market.",
               "Damaged or not-as-described items can now be reported within 7 days of delivery instead of 48 hours.",
               "Sellers now have 3 calendar days to respond to a return request instead of 5.",
               "Items bought in LIVE flash sales can now be returned under the standard windows.",
               "The threshold for refunds that need Shop Ops Tier 2 approval was raised from USD 300 to USD 500."),
        ]
    b += [h1("2. Return windows")]
    if cur:
        b += [
            p("The return window starts on the delivery date shown in the carrier tracking. If tracking does not show a "
              "delivery date, the window starts 5 days after the estimated delivery date shown on the order."),
            table(["Market", "General merchandise", "Electronics", "Apparel and footwear", "Beauty and personal care (unopened)"],
                  ["US", "30 days", "15 days", "30 days", "15 days"],
                  ["GB", "30 days", "30 days", "30 days", "14 days"],
                  ["DE", "30 days", "30 days", "30 days", "14 days"],
                  ["FR", "30 days", "30 days", "30 days", "14 days"],
                  ["BR", "15 days", "7 days", "15 days", "7 days"],
                  ["ID", "7 days", "7 days", "7 days", "3 days"],
                  ["MY", "15 days", "7 days", "15 days", "7 days"],
                  ["MX", "30 days", "15 days", "30 days", "15 days"]),
            h2("2.1 Market notes"),
            ul("US: most items can be returned within 30 days of delivery, but electronics and unopened beauty products only within 15 days.",
               "GB, DE and FR: the standard window is 30 days, and never less than the 14-day statutory cancellation period for distance purchases.",
               "BR: the 7-day right of withdrawal under the Consumer Defense Code applies to every category; Vybe extends general merchandise and apparel to 15 days.",
               "ID: buyers have 7 days from delivery for most categories and 3 days for beauty and personal care.",
               "MY: general merchandise and apparel can be returned within 15 days; electronics and beauty within 7 days.",
               "MX: the window is 30 days for general merchandise and apparel and 15 days for electronics and beauty."),
        ]
    else:
        b += [
            p("The return window starts on the delivery date shown in the carrier tracking. If tracking does not show a "
              "delivery date, the window starts 7 days after the estimated delivery date shown on the order."),
            table(["Market", "General merchandise", "Electronics", "Apparel and footwear", "Beauty and personal care (unopened)"],
                  ["US", "15 days", "15 days", "15 days", "7 days"],
                  ["GB", "14 days", "14 days", "14 days", "14 days"],
                  ["DE", "14 days", "14 days", "14 days", "14 days"],
                  ["FR", "14 days", "14 days", "14 days", "14 days"],
                  ["ID", "3 days", "3 days", "3 days", "3 days"],
                  ["MY", "7 days", "7 days", "7 days", "7 days"],
                  ["MX", "15 days", "15 days", "15 days", "7 days"]),
            h2("2.1 Market notes"),
            ul("US: most items can be returned within 15 days of delivery; unopened beauty products within 7 days.",
               "GB, DE and FR: all categories follow the 14-day statutory cancellation period for distance purchases.",
               "ID: buyers have 3 days from delivery to request a return in every category.",
               "MY: all categories can be returned within 7 days of delivery.",
               "MX: the window is 15 days for most categories and 7 days for beauty and personal care."),
        ]
    b += [
        h1("3. Return reasons and who pays for return shipping"),
        p("The buyer chooses a return reason in the app. The reason decides who pays for return shipping and whether the "
          "seller can refuse the return."),
        table(["Return reason", "Return shipping paid by", "Seller can refuse?"],
              ["Damaged on arrival", "Seller (prepaid label)", "No"],
              ["Not as described", "Seller (prepaid label)", "Only with evidence, through a dispute"],
              ["Wrong item or missing parts", "Seller (prepaid label)", "No"],
              ["Changed my mind", "Buyer" + (", unless the listing has a Free returns badge" if cur else ""), "Only for items listed in section 5"]),
    ]
    if cur:
        b += [
            p("Damaged, not-as-described and wrong items must be reported within 7 days of delivery, even if the return "
              "window for the category is longer. After 7 days, the buyer can still return the item as Changed my mind "
              "within the normal window."),
        ]
    else:
        b += [
            p("Damaged, not-as-described and wrong items must be reported within 48 hours of delivery. After 48 hours, "
              "the buyer can only return the item as Changed my mind within the normal window."),
        ]
    b += [
        p("For damaged or not-as-described items, ask the buyer for at least two photos showing the problem and the "
          "shipping label. Do not ask for an unboxing video; it is optional evidence only."),
    ]
    if cur:
        b += [
            h2("3.1 Returnless refunds"),
            p("For items priced under USD 10 (or the local equivalent) that are reported as damaged or not as described, "
              "agents can approve a refund without asking the buyer to send the item back. The seller is notified and can "
              "dispute it within 14 days."),
        ]
    else:
        b += [
            h2("3.1 Returnless refunds"),
            p("For items priced under USD 5 (or the local equivalent) that are reported as damaged, agents can approve a "
              "refund without asking the buyer to send the item back."),
        ]

    if cur:
        b.append(pagebreak())
    b += [h1("4. Processing a return request")]
    b += [
        p("Agents process return requests in Shopdesk. Follow the steps in order; Shopdesk records each step on the order timeline."),
        ol("Open the order in Shopdesk and check the delivery date and the return window for the market and category.",
           "Check that the item is not excluded under section 5. If it is excluded and the reason is Changed my mind, decline with the macro SHOP-Return-Excluded.",
           "Select the return reason the buyer gives and attach the buyer's photos for damaged, not-as-described or wrong items.",
           "Submit the return request. The seller is notified in Seller Center and has " + ("3 calendar days" if cur else "5 calendar days") + " to accept, reject with evidence, or offer a partial refund.",
           "If the seller does not respond within " + ("3 calendar days" if cur else "5 calendar days") + ", the return is approved automatically.",
           "Send the buyer the return label and instructions. For seller-fault reasons the label is prepaid.",
           "The refund is issued " + ("within 48 hours after the seller confirms receipt of the returned item, or automatically 7 days after tracking shows the item was delivered to the seller." if cur else "within 5 business days after the seller confirms receipt of the returned item, or automatically 10 days after tracking shows the item was delivered to the seller."),
           "Refunds above " + ("USD 500" if cur else "USD 300") + " (or the local equivalent) need approval from Shop Ops Tier 2 before they are issued. Request it with the Tessera category Shop - High Value Refund."),
        p("If the seller rejects the return, the case moves to the Resolution Center and is handled under the Vybe Shop "
          "Seller Dispute SOP. Do not promise the buyer a refund while a dispute is open."),
    ]
    b += [
        h1("5. Items that cannot be returned"),
        p("The following items cannot be returned for Changed my mind. They can always be returned if they arrive "
          "damaged, are not as described or are the wrong item."),
        ul("Personalised or made-to-order items.",
           "Perishable goods, including food, flowers and plants.",
           "Underwear, swimwear and pierced jewellery if the hygiene seal has been removed.",
           "Opened beauty and personal care products.",
           "Digital goods, gift cards, vouchers and top-ups.",
           "Items marked Final sale on the listing before purchase."),
    ]
    if cur:
        b += [
            p("Items bought in LIVE flash sales can be returned under the standard windows in section 2. A LIVE flash "
              "sale item is final sale only if the listing showed the Final sale label during the LIVE."),
        ]
    else:
        b += [
            p("Items bought in LIVE flash sales are final sale and cannot be returned for Changed my mind."),
        ]
    b += [
        h1("6. Refund methods and timing"),
        p("Refunds go back to the original payment method. Vybe coins, Diamonds and Rewards Balance cannot be used to "
          "refund Shop orders, and agents cannot refund a card payment to a different card."),
        table(["Payment method", "Time for the refund to appear after it is issued"],
              ["Credit or debit card", "3 to 10 business days"],
              ["PayPal", "1 to 3 business days"],
              ["PIX (BR)" if cur else "Apple Pay / Google Pay", "1 business day" if cur else "3 to 10 business days"],
              ["E-wallets (DANA, OVO, GoPay, Touch 'n Go)", "1 to 3 business days"],
              ["Cash payment (OXXO, convenience store)", "Refunded by bank transfer within 10 business days"]),
        p("If a refund has not appeared after the time in the table, ask the buyer to check with their bank or wallet "
          "provider first, then send the refund reference from Shopdesk. Do not issue a second refund."),
    ]
    b += [
        h1("7. Exceptions and escalation"),
        ul("Counterfeit items: follow the Counterfeit Product Report Handling SOP. The buyer is not asked to return the item.",
           "Orders that never arrived are not returns; use the Order Not Received macro set and the carrier claim process.",
           "Buyers with more than 5 returns in 60 days are flagged for a return abuse review by Shop Integrity; do not tell the buyer about the flag.",
           "Safety recalls override the return windows: recalled items can always be returned for a full refund."),
        p("Escalate policy questions to Shop Operations in the #shop-ops-policy channel, and individual cases through the "
          "Tessera category Shop - Returns Escalation."),
    ]
    if not cur:
        b += [
            h1("8. Document status"),
            p("This version (1.4) of the policy was replaced by version 2.0 on 1 September 2026. Use version 2.0 for all "
              "orders delivered on or after that date."),
        ]
    return b


add_doc(
    "policies/shop-returns-v1.pdf",
    {
        "title": "Vybe Shop Returns and Refunds Policy",
        "doc_type": "policy",
        "owner_team": "Shop Operations",
        "markets": ["US", "GB", "DE", "FR", "ID", "MY", "MX"],
        "product_area": "shop",
        "version": "1.4",
        "effective_date": "2025-03-01",
        "review_date": "2026-03-01",
        "access_groups": ["all-agents"],
        "status": "superseded",
        "superseded_by": "policies/shop-returns-v2.pdf",
        "tags": ["returns", "refunds", "vybe-shop", "return-windows"],
    },
    shop_returns_blocks(1),
)

add_doc(
    "policies/shop-returns-v2.pdf",
    {
        "title": "Vybe Shop Returns and Refunds Policy",
        "doc_type": "policy",
        "owner_team": "Shop Operations",
        "markets": ["US", "GB", "DE", "FR", "BR", "ID", "MY", "MX"],
        "product_area": "shop",
        "version": "2.0",
        "effective_date": "2026-09-01",
        "review_date": "2027-09-01",
        "access_groups": ["all-agents"],
        "supersedes": "policies/shop-returns-v1.pdf",
        "tags": ["returns", "refunds", "vybe-shop", "return-windows"],
    },
    shop_returns_blocks(2),
)

# ========================================================================================
# DOCX documents
# ========================================================================================

add_doc(
    "policies/harassment-bullying.docx",
    {
        "title": "Harassment and Bullying Policy",
        "doc_type": "policy",
        "owner_team": "T&S Policy",
        "markets": ["global"],
        "product_area": "safety",
        "version": "2.2",
        "effective_date": "2025-10-01",
        "review_date": "2026-10-01",
        "access_groups": ["tns-specialists"],
        "tags": ["harassment", "bullying", "doxxing", "brigading", "public-figures", "minors"],
    },
    [
        h1("Purpose"),
        p("Vybe wants people to feel safe expressing themselves. This policy defines the harassment and bullying we "
          "remove, how protection differs for private individuals, public figures and minors, and how reviewers enforce "
          "and escalate. It applies to videos, comments, LIVE chat, duets and stitches, profile fields and direct "
          "messages that reach review."),
        h1("Definitions"),
        ul("Targeted harassment: repeated or severe content aimed at an identifiable person that is intended to degrade, intimidate or shame them.",
           "Bullying: harassment of a private individual, most often between peers, including mocking someone's appearance, disability or social status.",
           "Brigading: coordinated attempts by several accounts to flood a person's content, comments or DMs with abuse.",
           "Doxxing: publishing or threatening to publish private information that could locate or identify a person, such as a home address, phone number, school or workplace.",
           "Sexual harassment: unwanted sexual comments, advances or sexualised edits of a real person."),
        h1("Protection levels"),
        h2("Private individuals"),
        p("Private individuals receive full protection. We remove insults, degrading content, unwanted sexual comments, "
          "content that mocks a tragedy they experienced, and calls for others to harass them."),
        p("For low-severity insults against an adult private individual (Tier 3 in the enforcement table), we act only "
          "on a first-person report from the targeted person or their authorised representative. Reports from bystanders "
          "for Tier 3 insults are closed with the macro HB-Bystander-Thanks."),
        h2("Public figures"),
        p("Public figures, including politicians, celebrities and creators with more than 1 million followers, can be "
          "criticised, parodied and satirised. We still remove threats, sexual harassment, doxxing, attacks based on "
          "protected characteristics and content that encourages others to harass them."),
        h2("Minors"),
        p("Minors receive the highest level of protection. Any bullying of an identifiable person under 18 is removed "
          "whether or not the minor reported it, and even if the minor is a public figure."),
        h1("Enforcement"),
        table(["Tier", "Behaviour", "Action"],
              ["Tier 1", "Doxxing; threats to harm; sexual harassment of a minor", "Remove; 30-day account suspension; permanent ban for a second Tier 1 violation within 12 months"],
              ["Tier 2", "Targeted harassment; bullying of a minor; sexualised edits of a real person; brigading organisation", "Remove; 7-day posting and commenting restriction"],
              ["Tier 3", "Insults and name-calling against an adult private individual", "Remove on first-person report; warning"]),
        p("Doxxing content is always removed, even if the information is available elsewhere online. Reviewers must not "
          "copy the exposed information into case notes; record only the type of information exposed."),
        h1("Review procedure"),
        ol("Identify the target and decide whether they are a private individual, a public figure or a minor. Use the Tessera profile panel; if the age is unknown and the content suggests a school setting, treat the target as a minor.",
           "Check whether the content is part of a pattern. Open the Interaction History panel to see other comments or videos from the same account aimed at the target in the last 30 days.",
           "Apply the enforcement action for the highest tier that applies.",
           "Offer the target protective tools with the macro HB-Safety-Tools: Restrict mode, comment filters, limiting duets and stitches, and bulk comment removal.",
           "If the content includes a credible threat of violence, escalate under the threats procedure described in the Escalation section below."),
        h1("Escalation"),
        ul("Credible threats of violence with a target, time or place: escalate as P0 to the LERT on-call through the Guardian queue LERT-Emergency immediately.",
           "Sexual harassment of a minor or sexualised content involving a minor: follow the Child Safety CSAM Escalation and Reporting SOP.",
           "Coordinated harassment involving 50 or more accounts: escalate to T&S Tier 2 Threat Intelligence through the Guardian queue Coordinated-Harm within 4 hours.",
           "Harassment that references self-harm, such as telling the target to hurt themselves: remove it, and check the target's wellbeing under the Self-Harm and Suicide Risk Response SOP."),
        h1("Exceptions"),
        ul("Self-referential or reclaimed use of slurs by members of the targeted group, when the intent is not to degrade.",
           "Counter-speech that condemns harassment, including content that quotes abusive messages in order to call them out, as long as the target's personal information is blurred.",
           "Satire and commentary about public figures that does not include threats, sexual content or doxxing.",
           "Consensual playful insults between friends, where both accounts clearly participate. If one party reports it, the content is no longer treated as consensual."),
        h1("Related documents"),
        p("Violent Extremism and Terrorist Content Policy; Self-Harm and Suicide Risk Response SOP; Trust & Safety "
          "Escalation Matrix. Questions about this policy go to T&S Policy through the Tessera category Policy - Clarification."),
    ],
)

add_doc(
    "sops/creator-payout-troubleshooting.docx",
    {
        "title": "Creator Payout Troubleshooting SOP",
        "doc_type": "sop",
        "owner_team": "Creator Support",
        "markets": ["US", "GB", "DE", "FR", "BR", "IN", "ID", "MY", "JP", "KR", "AU", "MX"],
        "product_area": "creator-monetization",
        "version": "1.6",
        "effective_date": "2026-08-15",
        "review_date": "2027-02-15",
        "access_groups": ["creator-support", "payments-support"],
        "tags": ["payouts", "payline", "tax-forms", "w-8ben", "w-9", "bank-rejection"],
    },
    [
        h1("Scope"),
        p("Use this SOP when a creator contacts support because a Creator Rewards Program or LIVE Diamonds payout is "
          "late, pending, on hold, failed or lower than expected. Eligibility, thresholds and payout dates are defined "
          "in the Creator Rewards Program: Eligibility and Payouts Policy; this SOP covers diagnosis and fixes."),
        h1("Before you start"),
        p("Open the creator's account in Payline, the payout console, from the Payouts tab of the Tessera case. Check "
          "the payout status, the payout method on file, and the tax information status before replying."),
        table(["Payline status", "Meaning", "Go to"],
              ["Scheduled", "The balance met the threshold and the payout is queued for the next payout date", "No action; give the payout date"],
              ["Processing", "The payout was sent to the payment provider", "Payout pending"],
              ["Pending review", "The payout is held by Payments Risk for a fraud or invalid traffic review", "Payout pending"],
              ["On hold - tax", "Tax information is missing, expired or was rejected", "Tax form missing or rejected"],
              ["Failed - bank rejected", "The receiving bank or wallet returned the payout", "Bank rejections"],
              ["Paid", "The provider confirmed delivery of the funds", "Paid but not received"]),
        h1("Payout pending"),
        h2("Status Processing"),
        ol("Check the date the payout was sent in Payline. Bank transfers usually arrive within 3 to 5 business days and PayPal payouts within 1 to 2 business days.",
           "If the payout is within that time, reply with the macro CRP-Payout-In-Transit and give the expected arrival date.",
           "If a bank transfer has been Processing for more than 5 business days, or a PayPal payout for more than 2 business days, open a trace in Payline with Request provider trace.",
           "Set the Tessera case to Pending - Provider and tell the creator we will update them within 3 business days.",
           "If the trace shows the funds were delivered, move to the Paid but not received section."),
        h2("Status Pending review"),
        p("Pending review means Payments Risk is checking the earnings for invalid traffic or fraud. Reviews usually "
          "finish within 10 business days of the payout date. Do not tell the creator which signals triggered the review."),
        ol("Reply with the macro CRP-Payout-Review, which explains that some payouts are reviewed before release.",
           "Do not escalate before 10 business days have passed since the payout date.",
           "After 10 business days, escalate to Payments Risk with the Tessera category Payout - Risk Review and include the Payline payout ID.",
           "Payments Risk replies within 5 business days. Pass the outcome to the creator using the macro that Payments Risk names in the case."),
        h1("Tax form missing or rejected"),
        p("A payout shows On hold - tax when no valid tax form is on file. The balance keeps accruing and is released in "
          "the next payout run after the form is validated. Validation takes up to 48 hours after the creator submits the form."),
        ol("Confirm which form the creator needs: Form W-9 for US citizens and US residents, Form W-8BEN for non-US individuals, Form W-8BEN-E for non-US companies and other entities.",
           "Ask the creator to submit the form in Creator Tools > Payouts > Tax info. Agents cannot fill in, upload or change a tax form on the creator's behalf, and must not accept tax forms as ticket attachments.",
           "If Payline shows Rejected, read the rejection reason to the creator using the list below and ask them to submit a corrected form.",
           "If the form is still not validated after 48 hours, escalate to Payments Support with the Tessera category Payout - Tax Validation."),
        p("Common rejection reasons:"),
        ul("Name mismatch: the name on the form does not match the legal name on the payout account.",
           "Missing foreign TIN: most W-8BEN forms need the tax identification number from the creator's country of residence.",
           "No treaty article: a treaty rate was claimed without naming the treaty article and the withholding rate.",
           "Missing signature or date, or the form was signed by someone other than the account holder.",
           "Expired form: a W-8BEN expires at the end of the third calendar year after the year it was signed."),
        p("Send creators the Creator Tax Forms FAQ for general questions. Never tell a creator which form or treaty rate to "
          "choose; that is tax advice."),
        h1("Bank rejections"),
        p("When a bank or wallet rejects a payout, Payline shows the status Failed - bank rejected and a rejection code. "
          "The money returns to the creator's balance within 5 to 7 business days after the rejection."),
        table(["Code", "Meaning", "Agent action"],
              ["BR-01", "Account closed", "Ask the creator to add a new payout account"],
              ["BR-02", "Account number invalid", "Ask the creator to check and re-enter the account number"],
              ["BR-03", "Account holder name mismatch", "The bank account name must match the legal name on the tax form; ask the creator to update one of them"],
              ["BR-04", "Currency not supported by the account", "Ask the creator to add an account that accepts the payout currency"],
              ["BR-05", "Declined for compliance reasons", "Escalate to Payments Compliance; do not discuss the reason with the creator"],
              ["BR-06", "IBAN, routing number or SWIFT code invalid", "Ask the creator to correct the bank details"],
              ["BR-07", "Receiving bank unreachable", "No action; Payline retries automatically after 3 business days"],
              ["BR-08", "PIX key invalid or not registered (BR)", "Ask the creator to re-register the PIX key with their bank and update it in Creator Tools"],
              ["PP-01", "PayPal account cannot receive payments", "Ask the creator to verify their PayPal account or switch to a bank transfer"]),
        ol("Find the rejection code in Payline and give the creator the matching action from the table.",
           "After the creator updates the payout method, they can use Retry payout in Creator Tools once the funds are back in their balance. Retry payout is available once every 24 hours, up to 3 times per payout.",
           "If the third retry fails, or the code is BR-05, escalate to Payments Support with the Tessera category Payout - Failed and include the Payline payout ID and the code."),
        h1("Paid but not received"),
        ol("Give the creator the provider reference from Payline (the trace number for bank transfers or the PayPal transaction ID).",
           "Ask the creator to check with their bank or PayPal using that reference. Most missing payments are found this way.",
           "If the bank confirms it did not receive the funds after 10 business days from the paid date, escalate to Payments Support with the Tessera category Payout - Not Received and attach the bank's written statement."),
        h1("Other situations"),
        ul("Balance below threshold: explain that the balance rolls over to the next month; check the threshold for the creator's market in the payouts policy.",
           "Account banned or deactivated: do not promise a payout. Escalate to Creator Monetisation Ops with the Tessera category CRP - Account Status.",
           "Creator has died: do not change any payout details. Escalate to Legal Escalations.",
           "Payout to the wrong person: if the creator says someone else changed their payout method, treat it as a compromised account and follow the account security procedure before any payout change."),
        h1("Escalation summary"),
        table(["Problem", "Tessera category", "Team", "Response target"],
              ["Provider trace", "Pending - Provider", "Payments Support", "3 business days"],
              ["Risk review over 10 business days", "Payout - Risk Review", "Payments Risk", "5 business days"],
              ["Tax form not validated after 48 hours", "Payout - Tax Validation", "Payments Support", "2 business days"],
              ["Third retry failed or BR-05", "Payout - Failed", "Payments Support or Payments Compliance", "3 business days"],
              ["Paid but not received", "Payout - Not Received", "Payments Support", "5 business days"]),
    ],
)

add_doc(
    "sops/shop-seller-disputes.docx",
    {
        "title": "Vybe Shop Seller Dispute SOP",
        "doc_type": "sop",
        "owner_team": "Shop Seller Support",
        "markets": ["US", "GB", "DE", "FR", "BR", "ID", "MY", "MX"],
        "product_area": "shop",
        "version": "1.3",
        "effective_date": "2026-09-01",
        "review_date": "2027-09-01",
        "access_groups": ["all-agents"],
        "tags": ["vybe-shop", "sellers", "disputes", "resolution-center", "seller-protection"],
    },
    [
        h1("Scope"),
        p("This SOP covers disputes between Vybe Shop sellers and buyers that are escalated to the Resolution Center, and "
          "sellers who appeal a refund that Vybe approved. It does not cover card chargebacks, which Payments Support "
          "handles, or counterfeit reports, which follow the Counterfeit Product Report Handling SOP."),
        h1("Dispute types"),
        table(["Dispute type", "Raised by", "Typical example"],
              ["Return rejected", "Seller", "The seller rejects a return because the item came back used or damaged"],
              ["Refund appeal", "Seller", "The seller disagrees with a refund that was approved automatically or by an agent"],
              ["Wrong item returned", "Seller", "The buyer returned a different item or an empty box"],
              ["Partial refund disagreement", "Buyer", "The buyer does not accept the seller's partial refund offer"]),
        h1("Timelines"),
        ul("A seller has 3 calendar days to respond to a return request before it is approved automatically.",
           "A seller can appeal a refund within 14 days of the refund being issued, using Appeal refund decision in Seller Center.",
           "Both parties have 3 calendar days to upload evidence after Shop Ops requests it.",
           "Shop Ops decides a dispute within 5 business days after the evidence period closes.",
           "Sellers in the Gold tier of the Seller Performance Program are handled in a priority queue with a decision target of 2 business days."),
        h1("Evidence requirements"),
        p("Sellers must provide evidence for every dispute. A dispute without evidence is closed in the buyer's favour "
          "after the evidence period."),
        ul("Photos of the returned item and its packaging, taken within 48 hours of receiving the return.",
           "The return tracking number and the weight recorded by the carrier, for empty box or wrong item claims.",
           "Listing photos and the description as they were at the time of purchase (Shopdesk keeps a snapshot).",
           "For electronics, the serial number or IMEI recorded at dispatch."),
        p("Buyers are asked for photos of the item and, for partial refund disagreements, a short explanation. An "
          "unboxing video is welcome but never required from a buyer."),
        h1("Procedure"),
        ol("Open the dispute in Shopdesk from the Resolution Center tab and check the dispute type and the dates.",
           "Check that the seller raised the dispute in time. Refund appeals submitted more than 14 days after the refund are declined with the macro SELLER-Appeal-Late.",
           "Request evidence from both parties with Request evidence. This starts the 3-day evidence period and pauses any automatic approval.",
           "When the evidence period closes, compare the evidence against the listing snapshot and the return reason.",
           "Choose an outcome: uphold the buyer refund, grant a partial refund, or rule for the seller.",
           "If you rule for the seller after a refund was already paid, do not take money back from the buyer. Reimburse the seller through Seller Protection (see below).",
           "Send the outcome to both parties with the macros SELLER-Dispute-Outcome and BUYER-Dispute-Outcome. The decision is recorded on the order timeline."),
        h1("Seller Protection"),
        p("Seller Protection reimburses sellers when buyer fraud is confirmed, for example an empty box return or a "
          "switched item. It covers up to USD 1,000 per order (or the local equivalent), including the item price and "
          "the original shipping fee."),
        p("Seller Protection does not cover items that were shipped without tracking, items excluded from returns that "
          "the seller accepted back voluntarily, or losses after the seller missed the 3-day evidence period."),
        h1("Exceptions and escalation"),
        ul("Disputes over USD 1,000 (or the local equivalent) are escalated to Shop Ops Tier 2 with the Tessera category Shop - High Value Dispute.",
           "Sellers with more than 3 disputes in a calendar month are flagged to Shop Integrity for review of their listings and fulfilment.",
           "If a seller threatens legal action, stop replying and escalate to Legal Escalations.",
           "If a buyer has opened a card chargeback for the same order, pause the dispute and tag it Chargeback-Open; Payments Support decides the outcome."),
    ],
)

add_doc(
    "sops/counterfeit-reports.docx",
    {
        "title": "Counterfeit Product Report Handling SOP",
        "doc_type": "sop",
        "owner_team": "Shop Integrity",
        "markets": ["US", "GB", "DE", "FR", "BR", "ID", "MY", "MX"],
        "product_area": "shop",
        "version": "1.1",
        "effective_date": "2026-04-20",
        "review_date": "2026-10-20",
        "access_groups": ["all-agents"],
        "tags": ["counterfeit", "vybe-shop", "brand-protection", "seller-enforcement"],
    },
    [
        h1("Scope"),
        p("This SOP explains how to handle reports that a Vybe Shop item is counterfeit: reports from buyers who received "
          "an item they believe is fake, reports from rights holders through the Brand Protection Portal, and listings "
          "detected by Shop Integrity's own checks."),
        h1("Buyer reports"),
        p("A buyer report about a suspected fake item is handled by frontline agents first, then reviewed by Shop "
          "Integrity. Do not tell the buyer that the item is counterfeit before Shop Integrity confirms it; say that we "
          "are investigating the listing."),
        ol("Collect the order ID, the listing URL, at least two photos of the item (including labels, serial numbers or packaging), and a short description of why the buyer thinks it is fake.",
           "Tag the ticket SHOP-Counterfeit and transfer it to the Shop Integrity queue in Tessera. Use priority High for the high-risk categories listed below.",
           "Reply to the buyer with the macro SHOP-Counterfeit-Received.",
           "Do not ask the buyer to return the item to the seller. Counterfeit goods must not go back into circulation. Ask the buyer to keep the item until the case is closed.",
           "When Shop Integrity confirms the item is counterfeit, issue a full refund, including shipping, without a return. The refund does not count towards the buyer's return history."),
        p("Shop Integrity reviews standard buyer reports within 2 business days. Reports in high-risk categories are "
          "reviewed within 24 hours: medicines and supplements, cosmetics and skin care, baby and children's products, "
          "car parts, and electrical chargers and batteries."),
        p("If a high-risk item could cause injury (for example a charger that overheats), Shop Integrity removes the "
          "listing immediately while it reviews, and notifies other buyers of the same listing."),
        h1("Rights holder reports"),
        p("Brand owners report counterfeit listings through the Brand Protection Portal. They must be enrolled in Vybe "
          "Brand Registry with a registered trademark. If a rights holder writes to support instead, reply with the macro "
          "IP-Brand-Portal and do not process the complaint in the ticket."),
        p("Reports that allege trademark misuse without a counterfeit product (for example a brand name used in a video or "
          "username) follow the Trademark Complaint Handling SOP."),
        h1("Seller enforcement"),
        table(["Confirmed counterfeit violation", "Action"],
              ["First", "Listings removed, written warning, 14-day freeze on new listings"],
              ["Second within 180 days", "Shop suspended for 90 days; open orders cancelled and refunded"],
              ["Third within 180 days", "Shop permanently closed; seller funds withheld for up to 180 days to cover refunds and claims"]),
        p("Shop Integrity applies enforcement; frontline agents cannot. Sellers who want to appeal a counterfeit decision "
          "must submit an invoice or authorisation letter from the brand owner or an authorised distributor in Seller "
          "Center within 30 days."),
        h1("Test buys"),
        p("Shop Integrity runs test purchases of listings with repeated reports or suspicious pricing, for example a "
          "branded item priced more than 60% below its usual retail price. Agents must not place test orders themselves or "
          "ask buyers to buy items as evidence."),
        h1("Exceptions"),
        ul("Second-hand genuine branded goods can be sold if they are described as used and the seller can show proof of purchase when asked.",
           "Unbranded products that look similar to a branded design are not counterfeit unless they use the brand's name or logo; route design disputes to IP Operations.",
           "Replica or inspired-by listings that state clearly they are not the original are still removed if they use the brand's logo."),
    ],
)

add_doc(
    "sops/dsar-handling.docx",
    {
        "title": "Data Subject Access Request (DSAR) Handling SOP",
        "doc_type": "sop",
        "owner_team": "Privacy Operations",
        "markets": ["global"],
        "product_area": "privacy",
        "version": "3.2",
        "effective_date": "2026-06-01",
        "review_date": "2027-06-01",
        "access_groups": ["all-agents", "legal-escalations"],
        "tags": ["dsar", "gdpr", "ccpa", "data-deletion", "data-access", "privacyhub"],
    },
    [
        h1("Scope"),
        p("This SOP covers requests from people who want to exercise their privacy rights: access to a copy of their "
          "data, deletion (erasure), correction, data portability, objection to processing, restriction of processing, "
          "and, in California, the right to opt out of the sale or sharing of personal information. All of these are "
          "called DSARs in this SOP."),
        p("Support agents do not fulfil DSARs in tickets. Every DSAR is logged and fulfilled in PrivacyHub, the privacy "
          "request tool, by Privacy Operations or by the self-service tools in the app."),
        h1("Legal deadlines"),
        p("The deadline is counted in calendar days from the day we receive the request, in any channel, including a "
          "support ticket or chat. A request received in a ticket counts as received even if the user did not use the "
          "privacy request form."),
        table(["Law / market", "Deadline", "Extension"],
              ["GDPR (EU and EEA)", "1 month (we use 30 days)", "Up to 2 further months for complex or numerous requests; the user must be told within the first month"],
              ["UK GDPR (GB)", "1 month (we use 30 days)", "Up to 2 further months, as for GDPR"],
              ["CCPA / CPRA (California, US)", "45 days", "One extension of 45 days, with notice to the user within the first 45 days"],
              ["LGPD (BR)", "15 days for a full copy of the data; simplified confirmation immediately", "No extension"],
              ["PIPA (KR)", "10 days", "Only with a stated reason"],
              ["APPI (JP)", "Without delay (we use 14 days)", "None"],
              ["Australian Privacy Act (AU)", "30 days", "None"],
              ["Other markets", "30 days (Vybe standard)", "Privacy Operations decides"]),
        p("For GDPR and UK GDPR requests we answer within 30 days of receipt. For CCPA requests from California residents "
          "we answer within 45 days of receipt. If identity verification is needed, the clock is paused from the day we "
          "ask for verification until the user completes it."),
        h1("Procedure for agents"),
        ol("Recognise the request. Users rarely say DSAR: phrases such as send me everything you have on me, delete all my data, or what do you know about me are DSARs.",
           "If the user is signed in to the app, send the macro PRIV-Self-Service with the in-app paths: Settings > Privacy > Download your data, and Settings > Account > Delete account.",
           "If the user cannot use the app (for example a locked account, a logged-out web user, or a request for rights not available in the app), create a PrivacyHub case from the ticket with Create privacy request. PrivacyHub records the ticket date as the date of receipt.",
           "Verify identity only through PrivacyHub, which sends a one-time code to the email address or phone number on the account. Never ask for an ID document or a selfie in a ticket, and never accept one as an attachment.",
           "Tell the user the deadline that applies and that Privacy Operations will contact them from privacy@vybe.example. Use the macro PRIV-Request-Logged.",
           "Close the ticket as Transferred - Privacy. Privacy Operations owns the request from this point."),
        h1("Access and portability requests"),
        p("Data exports are generated in PrivacyHub in JSON or HTML format. The download link is sent to the verified "
          "email address and expires after 4 days. If the user misses the link, they can request a new export; it does "
          "not restart the legal deadline for the original request."),
        h1("Deletion requests"),
        p("After a deletion request is verified, the account is deactivated immediately and deleted after a 30-day grace "
          "period, during which the user can sign in to cancel the deletion. Data in backups is overwritten within 90 days "
          "of deletion."),
        h2("When deletion is delayed"),
        ul("Open Vybe Shop orders or returns: the deletion is scheduled and runs automatically after the last open order or return is closed. Tell the user that deletion will complete after their orders close.",
           "Unpaid Creator Rewards or Diamonds balance: the user must withdraw or waive the balance first; Privacy Operations explains the options.",
           "Legal hold or law enforcement preservation: the deletion is paused. Do not tell the user that a hold exists; Privacy Operations uses the approved wording.",
           "Transaction records (orders, invoices, payouts) are kept for the period required by tax and commercial law after the account is deleted, for example 10 years in DE and FR."),
        h1("Special cases"),
        ul("Authorised agents (CCPA): a person acting for a California resident must provide the resident's signed permission; PrivacyHub still verifies the resident's identity directly.",
           "Parents of children under 13 in the US can request deletion of their child's account under COPPA; route to Privacy Operations with the tag PRIV-Parent.",
           "Requests about another person's data (for example a parent asking for a teenager's messages) are not DSARs for the requester; see the Privacy FAQ for Support Agents.",
           "Requests that mention a data protection authority, a regulator or a complaint: escalate to Legal Escalations within 1 business day with the tag PRIV-Regulator."),
        h1("Quality checks"),
        p("Privacy Operations reviews a sample of 5% of DSAR tickets every month to check that agents created PrivacyHub "
          "cases on the day of receipt. A DSAR left in a ticket without a PrivacyHub case for more than 2 business days is "
          "treated as a privacy incident."),
    ],
)

add_doc(
    "sops/trademark-complaints.docx",
    {
        "title": "Trademark Complaint Handling SOP",
        "doc_type": "sop",
        "owner_team": "IP Operations",
        "markets": ["global"],
        "product_area": "moderation",
        "version": "1.4",
        "effective_date": "2026-03-15",
        "review_date": "2027-03-15",
        "access_groups": ["all-agents", "legal-escalations"],
        "tags": ["intellectual-property", "trademark", "usernames", "impersonation", "brand-protection"],
    },
    [
        h1("Scope"),
        p("This SOP covers complaints that content, a username, a profile or a LIVE stream on Vybe infringes a trademark. "
          "Counterfeit products sold on Vybe Shop are handled under the Counterfeit Product Report Handling SOP, and "
          "copyright complaints under the Copyright (DMCA) Takedown and Counter-Notice SOP."),
        h1("Who can file"),
        p("Only the trademark owner or an agent authorised by the owner can file a trademark complaint. Complaints are "
          "accepted only through the Trademark Report form on the Vybe IP Portal. If a complaint arrives by email or in a "
          "support ticket, reply with the macro IP-Trademark-Form and close the ticket as Redirected - IP."),
        h2("Required information"),
        ul("The complainant's name, contact details and relationship to the trademark owner.",
           "The trademark, the registration number, the registry or jurisdiction, and the classes of goods or services covered.",
           "The URL of each piece of content, account or listing complained about.",
           "A description of how the use is likely to confuse people about the source, sponsorship or affiliation.",
           "A statement that the information is accurate and that the complainant is authorised to act."),
        p("Unregistered marks are accepted only in GB and US when the complainant provides evidence of established use "
          "for at least 2 years. All other complaints about unregistered marks are declined."),
        h1("Review procedure"),
        ol("IP Operations checks that the complaint is complete and that the registration is valid in a public trademark database. Incomplete complaints are returned once with the list of missing items.",
           "The reviewer checks whether the use is likely to cause confusion, or is a permitted use such as commentary, review, comparison, parody or a factual reference to the brand.",
           "If the complaint is valid, remove the content or listing, or reset the username or profile name, and notify the account holder with the reason and the complainant's name.",
           "If the complaint is not valid, reply to the complainant with the reason. We do not notify the account holder.",
           "Record the outcome in Tessera with the category IP - Trademark."),
        p("IP Operations reviews trademark complaints within 3 business days. Complaints about Vybe Shop listings and "
          "LIVE Shopping streams are reviewed within 24 hours."),
        h1("Usernames and brand impersonation"),
        p("A username that matches a registered trademark is not a violation on its own. We act only if the account uses "
          "the mark in a way that is likely to confuse, for example by using the brand's logo as its profile image or "
          "posting as if it were the brand."),
        p("A trademark owner can ask to have a username released to them only if the account holding it has been inactive "
          "for at least 6 months or is using the mark in bad faith. Username transfers are approved by IP Operations and "
          "completed by Account Support; agents must not transfer usernames."),
        h1("Repeat infringers"),
        p("An account with 3 valid trademark complaints in 12 months is permanently banned. Shop sellers are handled "
          "under the seller enforcement ladder in the Counterfeit Product Report Handling SOP."),
        h1("Appeals"),
        p("The account holder can appeal a trademark removal within 30 days through the link in the notification. IP "
          "Operations reviews appeals within 5 business days; a reviewer who did not make the original decision handles "
          "the appeal. Unlike copyright, there is no statutory counter-notice process for trademarks, so restored content "
          "is not delayed by a waiting period."),
        h1("Escalation"),
        ul("Complaints that involve a government agency or a political campaign: escalate to Legal Escalations.",
           "Complaints from a brand against a creator with more than 1 million followers: escalate to IP Operations Tier 2 before any action.",
           "Threats of litigation or a court order: escalate to Legal Escalations within 1 business day."),
    ],
)

# ========================================================================================
# HTML documents
# ========================================================================================

add_doc(
    "guides/dangerous-challenges-playbook.html",
    {
        "title": "Dangerous Challenges and Trends Response Playbook",
        "doc_type": "guideline",
        "owner_team": "T&S Threat Intelligence",
        "markets": ["global"],
        "product_area": "safety",
        "version": "1.5",
        "effective_date": "2026-06-15",
        "review_date": "2027-06-15",
        "access_groups": ["tns-specialists"],
        "tags": ["dangerous-challenges", "trends", "hoaxes", "search-interventions", "minors"],
    },
    [
        h1("Why this playbook exists"),
        p("Viral challenges can spread across markets in hours. This playbook tells T&S specialists how to detect a "
          "dangerous trend, classify its risk, apply interventions quickly and consistently, and decide when to lift them. "
          "Individual users at risk of self-harm are always handled under the Self-Harm and Suicide Risk Response SOP."),
        h1("Risk tiers"),
        table(["Tier", "Definition", "Default interventions"],
              ["Tier A - Severe", "Participation risks death or serious injury (for example choking or fainting games, ingesting household products, fire or electrical stunts)", "Remove all participation content; block search for the hashtags and redirect to the safety page; no warning labels that name the challenge"],
              ["Tier B - Moderate", "Participation risks moderate injury or damage to property (for example stunts involving moving vehicles, pranks on strangers)", "Remove participation content; restrict related content to 18+; warning label on searches"],
              ["Tier C - Low", "Low risk, but imitation by younger users is a concern", "Keep content; add the Do not attempt label; exclude from For You for users under 18"]),
        p("Content that warns people about a challenge, reports on it as news, or explains why it is dangerous is allowed "
          "at every tier, as long as it does not show the dangerous act or explain how to do it."),
        h1("Detection"),
        ul("Report spikes: more than 200 user reports in 6 hours on the same hashtag or sound automatically opens a Trend Incident for review.",
           "External signals: news coverage, school or police advisories, and alerts from trusted flaggers and NGOs.",
           "Injury signals: any report of a minor being hurt while copying a trend, which is always treated as Tier A until classified."),
        h1("Response steps"),
        ol("Open a Trend Incident case in Tessera and link the hashtags, sounds and example videos.",
           "T&S Threat Intelligence classifies the trend into Tier A, B or C within 2 hours of the Trend Incident being opened.",
           "Apply the default interventions for the tier. Search interventions are set in the Search Controls console and take effect in all markets within 30 minutes.",
           "Add confirmed participation videos to the trend hash bank so that re-uploads are blocked automatically.",
           "Notify Vybe Communications and regional policy leads in the #tns-trends channel with the tier and the interventions applied.",
           "For Tier A trends, send the in-app safety notice to users under 18 in the affected markets, approved by the Wellbeing Response lead.",
           "Review the incident 14 days after classification and decide whether to keep, lower or lift the interventions."),
        h1("Hoax challenges"),
        p("Some challenges are hoaxes: a scary story about a challenge spreads, but there is little or no real "
          "participation. Warnings that name a hoax can make it spread further."),
        ul("Do not add warning labels or safety notices that name the hoax.",
           "Redirect searches for the hoax to the general online safety page, not to a page about the hoax.",
           "Remove content that presents the hoax as real and encourages others to take part; leave calm factual debunking content up.",
           "Point parents and schools who contact support to the Vybe Family Safety Center instead of confirming details about the hoax."),
        h1("When minors are involved"),
        p("If a video shows a minor taking part in a Tier A or Tier B challenge, remove it and check the account for "
          "signs of risk. If there is any indication that the minor was injured or is in danger, escalate to Wellbeing "
          "Response through the Guardian queue WB-Imminent."),
        h1("Lifting interventions"),
        p("Interventions for Tier A trends stay in place for at least 30 days, even if uploads stop. Tier B and Tier C "
          "interventions can be lifted at the 14-day review if uploads have dropped below 20 per day across all markets. "
          "The hash bank entries for a Tier A trend are never removed."),
        h1("Creator outreach"),
        p("For Tier B and Tier C trends, Creator Partnerships may contact large creators who took part and ask them to "
          "post safety messages. Creator outreach is never used for Tier A trends, to avoid drawing attention to them."),
    ],
)

add_doc(
    "faqs/creator-tax-forms.html",
    {
        "title": "Creator Tax Forms FAQ",
        "doc_type": "faq",
        "owner_team": "Creator Support",
        "markets": ["US", "GB", "DE", "FR", "BR", "IN", "ID", "MY", "JP", "KR", "AU", "MX"],
        "product_area": "creator-monetization",
        "version": "1.2",
        "effective_date": "2026-03-10",
        "review_date": "2026-09-10",
        "access_groups": ["creator-support", "all-agents"],
        "tags": ["tax-forms", "w-9", "w-8ben", "withholding", "1099", "1042-s"],
    },
    [
        p("This FAQ helps agents answer general questions about the tax forms creators submit for Creator Rewards and "
          "LIVE Diamonds payouts. Agents must not give tax advice; if a creator asks which treaty rate or form applies to "
          "their personal situation, tell them to consult a tax adviser."),
        h1("Which form"),
        h2("Which tax form does a creator need?"),
        p("US citizens and US residents, including US companies, submit Form W-9. Non-US individuals submit Form W-8BEN. "
          "Non-US companies, partnerships and other entities submit Form W-8BEN-E. Creators whose earnings are connected "
          "with a US trade or business may need Form W-8ECI; send those cases to Payments Support."),
        h2("Where does the creator submit the form?"),
        p("In the app: Creator Tools > Payouts > Tax info. The form is completed online in the tax interview and signed "
          "electronically. We do not accept paper or PDF forms by email or as ticket attachments."),
        h2("How long does validation take?"),
        p("Forms are usually validated within 48 hours. Payouts on hold for missing tax information are released in the "
          "next payout run after validation; they are not paid immediately."),
        h1("Withholding"),
        h2("What happens if the creator never submits a form?"),
        p("Payouts stay on hold with the status On hold - tax and the balance keeps growing. Nothing is lost, but nothing "
          "is paid until a valid form is on file."),
        h2("Why was tax withheld from a payout?"),
        p("US persons who submit a W-9 without a valid taxpayer identification number are subject to 24% backup "
          "withholding. Non-US creators have 30% withheld from the US-source portion of their earnings unless they claim "
          "a lower treaty rate on Form W-8BEN."),
        h2("Which treaty rates are common?"),
        p("The rate depends on the treaty between the creator's country and the US and on the type of income. For "
          "reference only: many creators in GB, DE, FR and JP claim 0%, and creators in AU commonly claim 5%. BR and MY "
          "have no income tax treaty with the US, so the 30% rate applies to the US-source portion. Never suggest a rate to a creator."),
        h2("Does Vybe withhold tax on all earnings?"),
        p("No. US withholding applies only to the US-source portion of earnings, which is the share of qualified views "
          "and gifts from viewers in the US. Creators in IN also have TDS deducted under Indian law (20% without a PAN)."),
        h1("Validity and changes"),
        h2("Does a tax form expire?"),
        p("A W-8BEN stays valid until the end of the third calendar year after the year it was signed, unless the "
          "creator's details change. For example, a form signed on 10 March 2026 expires on 31 December 2029. A W-9 does "
          "not expire, but must be updated if the name, address or TIN changes."),
        h2("The creator moved to or from the US. What now?"),
        p("They must submit a new form within 30 days of the change. Until the new form is validated, payouts are put on hold."),
        h2("Can an agent correct a typo on a submitted form?"),
        p("No. Agents cannot edit tax forms. The creator must submit a new form in Creator Tools, which replaces the old "
          "one once it is validated."),
        h1("Year-end tax documents"),
        h2("Which year-end documents do creators receive?"),
        p("US creators paid USD 600 or more in the calendar year receive Form 1099-NEC by 31 January. Non-US creators "
          "receive Form 1042-S by 15 March for any year in which US tax was withheld or US-source income was paid. "
          "Documents are available in Creator Tools > Payouts > Tax documents."),
        h2("The creator says their 1099 is wrong. What do we do?"),
        p("Check that the creator's name and TIN in Payline match the form. If the amounts look wrong, escalate to "
          "Payments Support with the Tessera category Payout - Tax Documents; corrected forms are issued within 30 days "
          "of a confirmed error."),
    ],
)

add_doc(
    "guides/live-gifts-revenue-share.html",
    {
        "title": "LIVE Gifts and Diamonds Revenue Share Reference",
        "doc_type": "reference",
        "owner_team": "Creator Monetisation Ops",
        "markets": ["global"],
        "product_area": "creator-monetization",
        "version": "1.0",
        "effective_date": "2026-05-01",
        "review_date": "2027-05-01",
        "access_groups": ["creator-support", "payments-support", "all-agents"],
        "tags": ["live", "gifts", "diamonds", "revenue-share", "payouts"],
    },
    [
        p("Quick reference for agents answering creator questions about how LIVE gifts turn into Diamonds and money. "
          "Coin purchases and coin refunds for viewers are covered in the coin policies, not here."),
        h1("How gifts become Diamonds"),
        p("Viewers buy coins and spend them on gifts during a LIVE. For every coin spent on a gift, the creator who "
          "receives the gift earns 1 Diamond. Each Diamond is worth USD 0.005, so creators receive 50% of the USD 0.01 "
          "reference value of each coin. The remaining 50% covers app store fees, payment processing and Vybe's share."),
        table(["Gift", "Coin price", "Diamonds to creator", "Creator earnings (USD)"],
              ["Rose", "1", "1", "0.005"],
              ["Vybe Heart", "10", "10", "0.05"],
              ["Confetti", "99", "99", "0.495"],
              ["Disco Ball", "500", "500", "2.50"],
              ["Galaxy", "1,000", "1,000", "5.00"],
              ["Vybe Rocket", "20,000", "20,000", "100.00"]),
        p("Earnings are calculated in USD and converted to the creator's payout currency at the Vybe daily reference rate "
          "on the statement date."),
        h1("When Diamonds can be withdrawn"),
        p("Diamonds are available to withdraw 14 days after the LIVE in which they were received. During the hold, gifts "
          "bought with coins that are later refunded or charged back are reversed, and the matching Diamonds are removed."),
        p("Withdrawable Diamonds are paid with the Creator Rewards balance in the monthly payout and use the same minimum "
          "thresholds and payout methods for each market."),
        h1("Special cases"),
        h2("Multi-guest LIVE and LIVE Match"),
        p("In multi-guest LIVEs and LIVE Match battles, the sender chooses which participant receives the gift, and only "
          "that participant earns the Diamonds. Hosts do not receive a share of gifts sent to their guests."),
        h2("LIVE agencies"),
        p("Creators who belong to a Vybe-approved LIVE agency receive the same Diamonds as other creators. Agency "
          "commission is paid by Vybe from its own share and is never deducted from the creator's Diamonds. If a creator "
          "says their agency takes a cut of their Diamonds, escalate to Creator Monetisation Ops with the Tessera category "
          "LIVE - Agency Concern."),
        h2("Gifts from minors"),
        p("Gifts sent with coins bought by a minor without permission may be refunded under the coin refund policy. If "
          "the refund happens during the hold period, the Diamonds are reversed. After the hold period, the creator keeps "
          "the Diamonds and Vybe absorbs the refund."),
        h1("What agents can and cannot do"),
        ul("Agents can explain the Diamond value, the hold period and the payout schedule.",
           "Agents cannot add, restore or transfer Diamonds. Diamond corrections are made only by Creator Monetisation Ops.",
           "Agents must not estimate how much a creator will earn from future LIVEs.",
           "Missing Diamonds after a LIVE: wait 24 hours for the gift ledger to settle, then escalate with the Tessera category LIVE - Diamonds Missing and the LIVE session ID."),
    ],
)

add_doc(
    "macros/shop-order-not-received.html",
    {
        "title": "Vybe Shop: Order Not Received Macro Set",
        "doc_type": "macro",
        "owner_team": "Shop Customer Support",
        "markets": ["US", "GB", "DE", "FR", "BR", "ID", "MY", "MX"],
        "product_area": "shop",
        "version": "2.1",
        "effective_date": "2026-09-05",
        "review_date": "2027-03-05",
        "access_groups": ["all-agents"],
        "tags": ["vybe-shop", "order-not-received", "macros", "carrier-claims", "refunds"],
    },
    [
        h1("Before you use these macros"),
        p("Check the order in Shopdesk first: the estimated delivery date (EDD), the tracking status and whether the order "
          "is domestic or cross-border. Pick the macro that matches the tracking status, fill in every placeholder, and "
          "never promise a refund before the conditions in the macro are met."),
        ul("Domestic orders: a Not received claim can be opened 3 days after the EDD has passed.",
           "Cross-border orders: a Not received claim can be opened 7 days after the EDD has passed.",
           "Marked delivered but not received: the buyer must wait 48 hours after the delivery scan before we open a claim, because many parcels turn up with neighbours or in a safe place.",
           "If the carrier investigation is not resolved within 5 business days, refund the buyer in full and let the seller pursue the carrier."),
        h1("ONR-01 Still in transit"),
        p("Use when: tracking shows the parcel moving and the EDD has not passed yet."),
        macro("Hi {{user_name}},",
              "Thanks for checking in about order {{order_id}}. Your parcel is on its way with {{carrier}} (tracking number {{tracking_number}}) and is expected by {{edd}}.",
              "If it hasn't arrived 3 days after that date, just reply here and we'll open a claim for you straight away.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-02 Past delivery date - claim opened"),
        p("Use when: the EDD has passed by 3 days (domestic) or 7 days (cross-border) and tracking has not updated."),
        macro("Hi {{user_name}},",
              "I'm sorry your order {{order_id}} hasn't arrived yet. I've opened a Not received claim ({{claim_id}}) and asked {{carrier}} to investigate.",
              "Carrier investigations usually take up to 5 business days. If the parcel isn't found by {{claim_deadline}}, we'll refund you in full - you don't need to contact us again.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-03 Marked as delivered but not received"),
        p("Use when: tracking shows Delivered but the buyer says they do not have the parcel, and the delivery scan is less than 48 hours old."),
        macro("Hi {{user_name}},",
              "The tracking for order {{order_id}} shows it was delivered on {{delivery_date}}. Sometimes parcels are left with a neighbour, in a mailroom or in a safe place, or the scan happens before the parcel actually arrives.",
              "Could you check those places and wait until {{wait_until}}? If it still hasn't turned up, reply here and we'll open a claim with {{carrier}}.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-04 Refund issued"),
        p("Use when: the claim deadline has passed without the parcel being found, or the carrier confirmed the parcel is lost and the buyer does not want a replacement."),
        macro("Hi {{user_name}},",
              "I'm sorry your order {{order_id}} never arrived. We've issued a full refund of {{refund_amount}} to your original payment method.",
              "Refunds usually appear within 3 to 5 business days, depending on your bank or payment provider.",
              "If the parcel does turn up later, please let us know so we can arrange payment or a return with the seller.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-05 Lost parcel - replacement offered"),
        p("Use when: the carrier confirmed the parcel is lost and the seller has offered to send a replacement. Only use this macro if the seller has confirmed stock in Shopdesk."),
        macro("Hi {{user_name}},",
              "{{carrier}} has confirmed that the parcel for order {{order_id}} was lost in transit. The seller can send you a replacement at no extra cost, expected by {{new_edd}}.",
              "If you'd prefer a full refund instead, just reply with REFUND within 3 days and we'll arrange it.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-06 Returned to sender - address problem"),
        p("Use when: tracking shows the parcel was returned to the seller because the address was incomplete or the buyer could not be reached."),
        macro("Hi {{user_name}},",
              "The carrier couldn't deliver order {{order_id}} and has returned it to the seller because {{return_reason}}.",
              "Once the seller receives it back, we'll refund you in full, minus the original shipping fee if the address on the order was incomplete. Please check your saved address in Settings > Shop > Addresses before your next order.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("ONR-07 Held at customs"),
        p("Use when: a cross-border parcel is held by customs. Do not use for domestic orders."),
        macro("Hi {{user_name}},",
              "Your order {{order_id}} is being held by customs in {{country}}. This can happen when import duties or taxes are due or customs need more information.",
              "{{carrier}} will contact you with instructions. If you don't hear from them within 5 business days, reply here and we'll follow up with the seller.",
              "Best, {{agent_name}}, Vybe Shop Support"),
        h1("Escalation"),
        p("If a buyer reports more than 2 Not received claims in 90 days, do not refund automatically; transfer the ticket "
          "to Shop Integrity with the tag SHOP-ONR-Review. High-value orders over USD 500 also need Shop Ops Tier 2 approval "
          "before the refund, as in the returns policy."),
    ],
)

add_doc(
    "sops/copyright-dmca-takedown.html",
    {
        "title": "Copyright (DMCA) Takedown and Counter-Notice SOP",
        "doc_type": "sop",
        "owner_team": "IP Operations",
        "markets": ["global"],
        "product_area": "moderation",
        "version": "2.4",
        "effective_date": "2026-02-15",
        "review_date": "2027-02-15",
        "access_groups": ["all-agents", "legal-escalations"],
        "tags": ["intellectual-property", "copyright", "dmca", "counter-notice", "repeat-infringer"],
    },
    [
        h1("Scope"),
        p("This SOP covers copyright takedown notices and counter-notices for videos, sounds, LIVE streams, images and "
          "profile content on Vybe. It follows the US Digital Millennium Copyright Act (DMCA) notice-and-takedown process, "
          "which Vybe applies worldwide, with the additional steps required in the EU under Article 17 of the Copyright "
          "in the Digital Single Market Directive."),
        h1("Intake"),
        p("Copyright notices are accepted through the Copyright Report form on the Vybe IP Portal and by post or email to "
          "the designated DMCA agent (copyright@vybe.example). If a notice arrives in a support ticket, do not act on it: "
          "reply with the macro IP-Copyright-Form and close the ticket as Redirected - IP."),
        h2("What a valid notice contains"),
        ol("A physical or electronic signature of the copyright owner or a person authorised to act for them.",
           "Identification of the copyrighted work claimed to be infringed.",
           "The URL of each piece of content to be removed.",
           "The complainant's contact information: name, address, phone number and email.",
           "A statement that the complainant has a good faith belief that the use is not authorised by the owner, its agent or the law.",
           "A statement that the information in the notice is accurate and, under penalty of perjury, that the complainant is authorised to act for the owner."),
        h1("Processing a takedown notice"),
        ol("IP Operations checks that the notice contains all six elements. An incomplete notice is returned once to the complainant with the missing elements listed; no content is removed.",
           "The reviewer confirms that the content at each URL matches the work described. Agents do not assess fair use; clear fair use cases are escalated to IP Operations Tier 2.",
           "Remove or disable the content and record the action in Tessera with the category IP - Copyright.",
           "Notify the uploader with the notice details: the complainant's name, the work, and the removed content. The complainant's email, phone and address are redacted.",
           "Apply a copyright strike to the uploader's account, unless the content was removed by automated music matching (muted sounds do not count as strikes)."),
        p("IP Operations reviews complete notices within 2 business days. Notices about LIVE streams are reviewed within "
          "1 hour, and partners in the Live Event Protection program (sports leagues and broadcasters) get removal of an "
          "infringing LIVE within 30 minutes of the notice."),
        h1("Counter-notices"),
        p("An uploader who believes the content was removed by mistake or misidentification can send a counter-notice "
          "through the link in the removal notification. Counter-notices sent to support are redirected with the macro "
          "IP-Counter-Notice."),
        h2("What a valid counter-notice contains"),
        ul("The uploader's physical or electronic signature, name, address and phone number.",
           "Identification of the removed content and where it appeared before removal.",
           "A statement under penalty of perjury that the uploader has a good faith belief the content was removed as a result of mistake or misidentification.",
           "Consent to the jurisdiction of the federal district court for the uploader's address (or, outside the US, any judicial district where Vybe can be found), and agreement to accept service of process from the complainant."),
        h2("Handling a counter-notice"),
        ol("IP Operations checks that the counter-notice is complete.",
           "Forward the counter-notice to the complainant, including the uploader's contact details as the law requires. Tell the uploader this will happen before they submit.",
           "Restore the content no sooner than 10 and no later than 14 business days after forwarding, unless the complainant tells us that they have filed a court action against the uploader.",
           "When content is restored, remove the related copyright strike."),
        h1("Repeat infringers"),
        p("An account that receives 3 copyright strikes within 90 days is permanently banned. Strikes expire 90 days after "
          "they are applied. A strike removed after a successful counter-notice or a withdrawn notice does not count."),
        h1("EU: Article 17 complaints"),
        p("Users in EU member states can also complain about a copyright removal through the in-app complaint and redress "
          "mechanism, without sending a formal counter-notice. A human reviewer in IP Operations decides the complaint "
          "within 7 days and the content stays down while the complaint is pending."),
        h1("Abuse of the process"),
        p("Complainants who send notices that are clearly false, for example claiming works they do not own, or sending "
          "notices to silence criticism, can be blocked from the Copyright Report form. Escalate suspected abuse to IP "
          "Operations Tier 2 with the tag IP-Notice-Abuse. Never restore content early because of suspected abuse "
          "without Tier 2 approval."),
        h1("Escalation"),
        ul("Notices from government bodies or involving political content or news reporting: Legal Escalations.",
           "Subpoenas to identify an uploader under 17 U.S.C. 512(h): route to LERT and Legal Escalations; never answer in a ticket.",
           "Creators with more than 1 million followers who receive a second strike: IP Operations Tier 2 reviews before the strike is applied."),
    ],
)

add_doc(
    "faqs/privacy-agent-faq.html",
    {
        "title": "Privacy FAQ for Support Agents",
        "doc_type": "faq",
        "owner_team": "Privacy Operations",
        "markets": ["global"],
        "product_area": "privacy",
        "version": "1.8",
        "effective_date": "2026-07-20",
        "review_date": "2027-01-20",
        "access_groups": ["all-agents"],
        "tags": ["privacy", "gdpr", "ccpa", "data-requests", "parents", "reporter-confidentiality"],
    },
    [
        p("Short answers to the privacy questions agents ask most often. For the full procedure on access, deletion and "
          "other privacy rights requests, use the DSAR Handling SOP."),
        h1("Sharing information about accounts"),
        h2("Can I confirm whether an email address or phone number has a Vybe account?"),
        p("No. Do not confirm or deny that an email address, phone number or username belongs to an account, unless the "
          "person is signed in to that account or has passed verification in the account recovery flow. Use the macro "
          "PRIV-Cannot-Confirm."),
        h2("A parent wants to see their teenager's messages. Can I help?"),
        p("No. We do not share the content of a teen's account or messages with parents through support. Explain Family "
          "Pairing, which lets parents manage screen time, DMs and privacy settings for users aged 13 to 17 without seeing "
          "message content. Parents of children under 13 in the US can ask for the child's account to be deleted; see the "
          "DSAR Handling SOP."),
        h2("A user wants to know who reported their video. Can I tell them?"),
        p("Never. The identity of a reporter is never shared with the reported user, even if the reporter is obvious from "
          "context or the user says they already know. This also applies to copyright complainants, whose contact details "
          "are redacted in removal notices."),
        h2("Someone says they are a police officer and needs account details urgently."),
        p("Do not share anything. Direct them to the Law Enforcement Portal and its Emergency option, and transfer the "
          "ticket to the LERT queue. The Law Enforcement Data Request Handling SOP has the full steps."),
        h1("Handling data inside support"),
        h2("Can I paste a user's details or screenshots into Slack to ask a colleague?"),
        p("No. Share Tessera case links instead. Tessera checks the colleague's access groups before showing the case. "
          "Screenshots of user data must not be taken, stored on your device or shared in chat tools."),
        h2("How long do we keep support tickets?"),
        p("Support tickets and chat transcripts are kept for 3 years after the ticket is closed, then deleted "
          "automatically. Tickets linked to a legal hold are kept until the hold is lifted."),
        h2("A user deleted a video by mistake. Can we recover it?"),
        p("Deleted videos stay in the user's Recently deleted folder for 30 days and can be restored there by the user. "
          "After 30 days they cannot be recovered by support."),
        h1("Privacy rights requests"),
        h2("How quickly do we have to answer a GDPR or CCPA request?"),
        p("GDPR and UK GDPR requests must be answered within 30 days of receipt, and CCPA requests within 45 days. The "
          "clock starts when the request reaches us in any channel, including your ticket, so create the PrivacyHub case "
          "on the same day."),
        h2("The user wants to opt out of personalised ads."),
        p("Point them to Settings > Privacy > Ads. California residents can also use the Do Not Sell or Share My Personal "
          "Information link in the app footer or on the web. Vybe honours Global Privacy Control browser signals as an "
          "opt-out of sharing."),
        h2("Does Vybe sell user data?"),
        p("Vybe does not sell personal information for money. Under California law, some advertising uses count as "
          "sharing, which is why users can opt out. Use the macro PRIV-Ads-Optout rather than answering in your own words."),
        h1("Security and incidents"),
        h2("A user thinks their data was leaked or breached."),
        p("Take the report seriously and do not speculate. Collect what the user saw and when, tag the ticket "
          "SEC-Report and escalate to Security Incident Response within 1 hour. Do not tell the user whether there was a "
          "breach; Security Incident Response and Privacy Operations handle any notification."),
        h2("I sent a user's information to the wrong person by mistake."),
        p("Report it to your team lead and to Privacy Operations through the Privacy Incident form straight away. Under "
          "GDPR, Vybe may need to notify the regulator within 72 hours, so do not wait until the end of your shift."),
    ],
)

add_doc(
    "guides/tns-escalation-matrix.html",
    {
        "title": "Trust & Safety Escalation Matrix",
        "doc_type": "guideline",
        "owner_team": "T&S Operations",
        "markets": ["global"],
        "product_area": "safety",
        "version": "3.1",
        "effective_date": "2026-08-01",
        "review_date": "2027-08-01",
        "access_groups": ["tns-specialists"],
        "tags": ["escalation", "guardian-queue", "on-call", "priorities"],
    },
    [
        p("One-page reference for where safety cases go, how fast, and who is on call. The linked SOPs always win if "
          "anything here differs from them."),
        h1("Escalation matrix"),
        table(["Issue", "Priority", "Guardian queue", "Owner team", "Target", "Out of hours"],
              ["Child in imminent danger; LIVE abuse in progress", "P0", "CSRT-Urgent", "Child Safety Response Team", "Immediately", "Page csrt-oncall"],
              ["Apparent CSAM, hash matches", "P1", "CSRT-Urgent", "Child Safety Response Team", "1 hour", "Page csrt-oncall"],
              ["Grooming or sextortion signals without imagery", "P2", "CSRT-Review", "Child Safety Response Team", "4 hours", "Next shift"],
              ["Imminent self-harm or suicide risk", "P0", "WB-Imminent", "Wellbeing Response", "Emergency services contacted within 15 minutes", "Page automatically"],
              ["Elevated self-harm risk", "P2", "WB-Review", "Wellbeing Response", "4 hours", "Next shift"],
              ["Credible threat of violence", "P0", "LERT-Emergency", "LERT", "Immediately", "Page lert-oncall"],
              ["Emergency disclosure request from law enforcement", "P0", "LERT-Emergency", "LERT", "Acknowledge in 30 minutes", "Page lert-oncall"],
              ["Tier 1 extremist content, new perpetrator content, EU removal order", "P1", "VE-Priority", "T&S Tier 2", "1 hour", "Page tns-tier2-oncall"],
              ["Dangerous challenge spike", "P1", "Trend Incident (Tessera)", "T&S Threat Intelligence", "Classified within 2 hours", "Page threat-intel-oncall"],
              ["Coordinated harassment (50 or more accounts)", "P2", "Coordinated-Harm", "T&S Threat Intelligence", "4 hours", "Next shift"],
              ["Suspected data breach reported by a user", "P1", "SEC-Report", "Security Incident Response", "1 hour", "Page sec-ir-oncall"],
              ["Regulator or data protection authority contact", "P2", "Legal Escalations (Tessera)", "Legal Escalations", "1 business day", "Next business day"]),
        h1("How to escalate"),
        ol("Set the Tessera case category and priority first. Many categories route to the right Guardian queue automatically.",
           "Use Escalate in the Tessera case to choose the Guardian queue from the matrix, and write an escalation note using the template below.",
           "For P0 cases, also page the on-call rotation from the Tessera escalation panel and stay on the case until someone acknowledges the page.",
           "If no one acknowledges a P0 page within 10 minutes, page the T&S Duty Manager (rotation tns-duty-manager).",
           "Do not send case details by email or chat. Share only the Tessera case link."),
        h1("Escalation note template"),
        ul("What happened: one or two factual sentences, no graphic description.",
           "Where: surface (video, LIVE, DM, comment, Shop) and the content or account IDs.",
           "When: UTC timestamps of the content and of the report.",
           "Risk: the priority you chose and why.",
           "Done so far: actions taken, for example Preserve & Restrict, Safety Interrupt, content removed."),
        h1("De-escalation"),
        p("Only the receiving team can lower a priority. If you think a case was escalated at the wrong priority, add a "
          "note to the case; do not move it back to your own queue."),
        h1("Contacts"),
        p("Rotation names can be paged from the Tessera escalation panel or from PagerDuty. The T&S Duty Manager is on call "
          "24/7 and can be reached by phone through the PagerDuty rotation tns-duty-manager if Tessera is unavailable."),
    ],
)

# ========================================================================================
# Rendering
# ========================================================================================

def slugify(text):
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "section"


# ---------------------------------------------------------------- YAML sidecars --------

META_ORDER = ["title", "doc_type", "owner_team", "markets", "product_area", "language", "version",
              "effective_date", "review_date", "access_groups", "status", "superseded_by", "supersedes", "tags"]


def _yaml_scalar(v):
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.,/()&'-]*", v) and ": " not in v and not v.endswith(":"):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sidecar_text(meta):
    lines = []
    for k in META_ORDER:
        if k not in meta:
            continue
        v = meta[k]
        if isinstance(v, list):
            lines.append("%s: [%s]" % (k, ", ".join(v)))
        elif k == "version":
            lines.append('%s: "%s"' % (k, v))
        elif k in ("effective_date", "review_date"):
            lines.append("%s: %s" % (k, v))
        else:
            lines.append("%s: %s" % (k, _yaml_scalar(v)))
    return "\n".join(lines) + "\n"


def meta_line(meta):
    parts = ["Version %s" % meta["version"], "Effective %s" % meta["effective_date"],
             "Review by %s" % meta["review_date"], "Owner: %s" % meta["owner_team"],
             "Access: %s" % ", ".join(meta["access_groups"])]
    return " | ".join(parts)


def status_line(meta):
    if meta.get("status") == "superseded":
        return "SUPERSEDED - this version is kept for reference only. Current version: %s" % meta["superseded_by"]
    return None


# ---------------------------------------------------------------- PDF ------------------

def build_pdf(d, out_path):
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

    meta = d["meta"]
    title = meta["title"]

    st_title = ParagraphStyle("KBTitle", fontName="Helvetica-Bold", fontSize=18, leading=22, spaceAfter=6)
    st_meta = ParagraphStyle("KBMeta", fontName="Helvetica", fontSize=8, leading=10, textColor=colors.HexColor("#555555"), spaceAfter=4)
    st_status = ParagraphStyle("KBStatus", fontName="Helvetica-Bold", fontSize=9, leading=11, textColor=colors.HexColor("#b00020"), spaceAfter=6)
    st_h = {
        1: ParagraphStyle("KBH1", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceBefore=12, spaceAfter=6, keepWithNext=1),
        2: ParagraphStyle("KBH2", fontName="Helvetica-Bold", fontSize=12, leading=15, spaceBefore=9, spaceAfter=4, keepWithNext=1),
        3: ParagraphStyle("KBH3", fontName="Helvetica-Bold", fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=3, keepWithNext=1),
    }
    st_body = ParagraphStyle("KBBody", fontName="Helvetica", fontSize=10, leading=13.5, spaceAfter=6, alignment=TA_LEFT)
    st_item = ParagraphStyle("KBItem", parent=st_body, leftIndent=18, firstLineIndent=-12, spaceAfter=3)
    st_cell = ParagraphStyle("KBCell", fontName="Helvetica", fontSize=8.5, leading=10.5)
    st_cell_h = ParagraphStyle("KBCellH", fontName="Helvetica-Bold", fontSize=8.5, leading=10.5)

    class KBDoc(SimpleDocTemplate):
        def __init__(self, *a, **kw):
            SimpleDocTemplate.__init__(self, *a, **kw)
            self._bm = 0

        def afterFlowable(self, flowable):
            if isinstance(flowable, Paragraph) and flowable.style.name in ("KBH1", "KBH2", "KBH3"):
                level = {"KBH1": 0, "KBH2": 1, "KBH3": 2}[flowable.style.name]
                self._bm += 1
                key = "sec%03d" % self._bm
                c = self.canv
                c.bookmarkPage(key)
                c.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)

    def on_page(canvas, doc):
        if doc.page == 1:
            canvas.showOutline()  # open the bookmarks pane by default
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(20 * mm, 12 * mm, "Vybe Support Knowledge Base - %s - v%s - INTERNAL" % (title, meta["version"]))
        canvas.drawRightString(A4[0] - 20 * mm, 12 * mm, "Page %d" % doc.page)
        canvas.restoreState()

    flow = [Paragraph(xml_escape(title), st_title), Paragraph(xml_escape(meta_line(meta)), st_meta)]
    s = status_line(meta)
    if s:
        flow.append(Paragraph(xml_escape(s), st_status))
    flow.append(Spacer(1, 4))

    avail_w = A4[0] - 40 * mm
    for kind, val in d["blocks"]:
        if kind in ("h1", "h2", "h3"):
            flow.append(Paragraph(xml_escape(val), st_h[int(kind[1])]))
        elif kind == "p":
            flow.append(Paragraph(xml_escape(val), st_body))
        elif kind == "ol":
            items = [Paragraph("%d. %s" % (i + 1, xml_escape(t)), st_item) for i, t in enumerate(val)]
            flow.append(KeepTogether(items + [Spacer(1, 4)]))
        elif kind == "ul":
            for t in val:
                flow.append(Paragraph(xml_escape(t), st_item, bulletText="-"))
            flow.append(Spacer(1, 4))
        elif kind == "table":
            header, rows = val
            data = [[Paragraph(xml_escape(c), st_cell_h) for c in header]]
            data += [[Paragraph(xml_escape(c), st_cell) for c in r] for r in rows]
            n = len(header)
            t = Table(data, colWidths=[avail_w / n] * n, repeatRows=1, hAlign="LEFT")
            t.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]))
            flow.append(t)
            flow.append(Spacer(1, 8))
        elif kind == "pb":
            flow.append(PageBreak())
        elif kind == "macro":
            for t in val:
                flow.append(Paragraph(xml_escape(t), st_item))
        else:
            raise ValueError(kind)

    doc = KBDoc(out_path, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                bottomMargin=22 * mm, title=title, author=AUTHOR, subject=meta["doc_type"],
                creator="scripts/build_kb_binaries.py", producer="ReportLab", invariant=1,
                keywords=", ".join(meta.get("tags", [])))
    doc.build(flow, onFirstPage=on_page, onLaterPages=on_page)
    return out_path


# ---------------------------------------------------------------- DOCX -----------------

def _docx_restart_numbering(document, paragraph, state):
    """Give each numbered list its own w:num so that numbering restarts at 1."""
    from docx.oxml.ns import qn
    if state.get("num") is None:
        style_numid = document.styles["List Number"].element.pPr.numPr.numId.val
        numbering = document.part.numbering_part.element
        abstract_id = numbering.num_having_numId(style_numid).abstractNumId.val
        num = numbering.add_num(abstract_id)
        lvl = num.add_lvlOverride(ilvl=0)
        lvl.add_startOverride(1)
        state["num"] = num.numId
    numPr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    numPr.get_or_add_ilvl().val = 0
    numPr.get_or_add_numId().val = state["num"]


def _fixed_zip(data):
    """Rewrite a ZIP (DOCX) with fixed timestamps so that builds are byte-identical."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 20, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def build_docx(d, out_path):
    from docx import Document
    from docx.shared import Pt, RGBColor

    meta = d["meta"]
    document = Document()
    cp = document.core_properties
    cp.title = meta["title"]
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.subject = meta["doc_type"]
    cp.keywords = ", ".join(meta.get("tags", []))
    cp.category = meta["product_area"]
    cp.revision = 1
    cp.created = BUILD_DATETIME.replace(tzinfo=None)
    cp.modified = BUILD_DATETIME.replace(tzinfo=None)
    cp.last_printed = BUILD_DATETIME.replace(tzinfo=None)
    cp.comments = "Generated by scripts/build_kb_binaries.py"

    document.add_paragraph(meta["title"], style="Title")
    mp = document.add_paragraph(meta_line(meta))
    for r in mp.runs:
        r.font.size = Pt(8)
        r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    s = status_line(meta)
    if s:
        sp = document.add_paragraph()
        run = sp.add_run(s)
        run.bold = True

    for kind, val in d["blocks"]:
        if kind in ("h1", "h2", "h3"):
            document.add_heading(val, level=int(kind[1]))
        elif kind == "p":
            document.add_paragraph(val)
        elif kind == "ol":
            state = {}
            for t in val:
                para = document.add_paragraph(t, style="List Number")
                _docx_restart_numbering(document, para, state)
        elif kind == "ul":
            for t in val:
                document.add_paragraph(t, style="List Bullet")
        elif kind == "table":
            header, rows = val
            tbl = document.add_table(rows=1 + len(rows), cols=len(header))
            tbl.style = "Table Grid"
            for j, c in enumerate(header):
                cell = tbl.rows[0].cells[j]
                cell.text = ""
                run = cell.paragraphs[0].add_run(c)
                run.bold = True
            for i, r in enumerate(rows):
                for j, c in enumerate(r):
                    tbl.rows[i + 1].cells[j].text = c
            document.add_paragraph("")
        elif kind == "pb":
            pass
        elif kind == "macro":
            for t in val:
                document.add_paragraph(t, style="Quote")
        else:
            raise ValueError(kind)

    buf = io.BytesIO()
    document.save(buf)
    with open(out_path, "wb") as f:
        f.write(_fixed_zip(buf.getvalue()))


# ---------------------------------------------------------------- HTML -----------------

NAV_HTML = """  <header class="kb-header">
    <a class="kb-logo" href="/kb/">Vybe Support KB</a>
    <nav class="kb-nav" aria-label="Knowledge base sections">
      <ul>
        <li><a href="/kb/policies/">Policies</a></li>
        <li><a href="/kb/sops/">SOPs</a></li>
        <li><a href="/kb/faqs/">FAQs</a></li>
        <li><a href="/kb/macros/">Macros</a></li>
        <li><a href="/kb/guides/">Guides</a></li>
        <li><a href="/kb/search">Search the KB</a></li>
      </ul>
    </nav>
  </header>
"""


def build_html(d, out_path):
    meta = d["meta"]
    def e(t):
        return html.escape(t, quote=False)
    title = meta["title"]
    out = []
    out.append("<!DOCTYPE html>")
    out.append('<html lang="en">')
    out.append("<head>")
    out.append('  <meta charset="utf-8">')
    out.append("  <title>%s - Vybe Support KB</title>" % e(title))
    out.append('  <meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append('  <meta name="kb-doc-type" content="%s">' % html.escape(meta["doc_type"]))
    out.append('  <meta name="kb-version" content="%s">' % html.escape(meta["version"]))
    out.append('  <link rel="stylesheet" href="/kb/static/kb.css">')
    out.append("</head>")
    out.append("<body>")
    out.append(NAV_HTML.rstrip("\n"))
    crumb_folder = d["path"].split("/")[0]
    crumb_label = {"policies": "Policies", "sops": "SOPs", "faqs": "FAQs", "macros": "Macros",
                   "guides": "Guides"}[crumb_folder]
    out.append('  <nav class="breadcrumbs" aria-label="Breadcrumb"><a href="/kb/">Home</a> &gt; '
               '<a href="/kb/%s/">%s</a> &gt; <span>%s</span></nav>' % (crumb_folder, crumb_label, e(title)))
    out.append("  <main>")
    out.append('    <article class="kb-article">')
    out.append('      <h1 id="%s">%s</h1>' % (slugify(title), e(title)))
    out.append('      <p class="kb-meta">%s</p>' % e(meta_line(meta)))
    s = status_line(meta)
    if s:
        out.append('      <p class="kb-status superseded">%s</p>' % e(s))
    used = set()
    for kind, val in d["blocks"]:
        if kind in ("h1", "h2", "h3"):
            # the article title is the page's only h1, so document headings shift down one level
            level = {"h1": 2, "h2": 3, "h3": 3}[kind]
            sid = slugify(val)
            base = sid
            k = 2
            while sid in used:
                sid = "%s-%d" % (base, k)
                k += 1
            used.add(sid)
            out.append('      <h%d id="%s">%s</h%d>' % (level, sid, e(val), level))
        elif kind == "p":
            out.append("      <p>%s</p>" % e(val))
        elif kind in ("ol", "ul"):
            out.append("      <%s>" % kind)
            for t in val:
                out.append("        <li>%s</li>" % e(t))
            out.append("      </%s>" % kind)
        elif kind == "table":
            header, rows = val
            out.append("      <table>")
            out.append("        <thead>")
            out.append("          <tr>")
            for c in header:
                out.append("            <th>%s</th>" % e(c))
            out.append("          </tr>")
            out.append("        </thead>")
            out.append("        <tbody>")
            for r in rows:
                out.append("          <tr>")
                for c in r:
                    out.append("            <td>%s</td>" % e(c))
                out.append("          </tr>")
            out.append("        </tbody>")
            out.append("      </table>")
        elif kind == "macro":
            out.append('      <div class="macro-body">')
            for t in val:
                out.append("        <p>%s</p>" % e(t))
            out.append("      </div>")
        elif kind == "pb":
            pass
        else:
            raise ValueError(kind)
    out.append("    </article>")
    out.append("  </main>")
    out.append('  <aside class="kb-feedback">')
    out.append("    <p>Was this article helpful? <button type=\"button\">Yes</button> <button type=\"button\">No</button></p>")
    out.append("  </aside>")
    out.append('  <footer class="kb-footer">')
    out.append("    <p>Vybe Support Knowledge Base - internal use only. Do not share outside Vybe support teams.</p>")
    out.append('    <p><a href="/kb/help">KB help</a> | <a href="/kb/feedback">Report a problem with this article</a></p>')
    out.append("  </footer>")
    out.append("</body>")
    out.append("</html>")
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")


# ---------------------------------------------------------------- main -----------------

def main():
    builders = {".pdf": build_pdf, ".docx": build_docx, ".html": build_html}
    for d in DOCS:
        out_path = os.path.join(KB, d["path"])
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        ext = os.path.splitext(out_path)[1]
        builders[ext](d, out_path)
        with open(out_path + ".meta.yaml", "w", encoding="utf-8", newline="\n") as f:
            f.write(sidecar_text(d["meta"]))
        print("wrote kb/%s" % d["path"])
    print("%d documents" % len(DOCS))


if __name__ == "__main__":
    sys.exit(main())
