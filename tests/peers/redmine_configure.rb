# redmine_configure.rb — run by redmine_setup.sh with `bin/rails runner` inside a Redmine 5.0
# instance (idempotent; adapted from /work/shared/peers/redmine/configure.rb).
# Enables the REST API, fixes the admin password/API key, and creates a project, an
# "Incident" tracker, and an issue custom field "External ID" usable as a dedup key.
# Prints one JSON line with the ids a client needs.
require 'json'

api_key  = ENV.fetch('REDMINE_API_KEY')
bot_key  = ENV.fetch('REDMINE_BOT_API_KEY')
admin_pw = ENV.fetch('REDMINE_ADMIN_PASSWORD', 'admin-peer-pw')
proj_id  = ENV.fetch('REDMINE_PROJECT', 'monitoring')

# default trackers/statuses/priorities/roles/workflows (same as `rake redmine:load_default_data`;
# done here, not in the rake call that migrates, whose models cache the pre-migration columns)
Redmine::DefaultData::Loader.load(ENV.fetch('REDMINE_LANG', 'en')) if Redmine::DefaultData::Loader.no_data?

Setting.rest_api_enabled = '1'
Setting.login_required = '1'           # anonymous gets 401, like a real install
Setting.default_language = 'en'
Setting.host_name = ENV.fetch('REDMINE_HOST', '127.0.0.1:3000')

def set_key(user, value)
  tok = Token.find_or_initialize_by(user_id: user.id, action: 'api')
  tok.save! if tok.new_record?        # before_create generates a random value...
  tok.update_column(:value, value)     # ...replace it with the fixed one
end

admin = User.find_by_login('admin')
admin.password = admin.password_confirmation = admin_pw
admin.must_change_passwd = false
admin.save!
set_key(admin, api_key)

bot = User.find_by_login('zabbix-bot') || User.new(firstname: 'Zabbix', lastname: 'Bot', mail: 'zabbix-bot@example.invalid')
bot.login = 'zabbix-bot'
bot.password = bot.password_confirmation = 'bot-peer-pw-123'
bot.must_change_passwd = false
bot.status = User::STATUS_ACTIVE
bot.save!
set_key(bot, bot_key)

new_st      = IssueStatus.find_by!(name: 'New')
inprog_st   = IssueStatus.find_by!(name: 'In Progress')
resolved_st = IssueStatus.find_by!(name: 'Resolved')
closed_st   = IssueStatus.find_by!(name: 'Closed')
ack_st = IssueStatus.find_by(name: 'Acknowledged') || IssueStatus.create!(name: 'Acknowledged', is_closed: false)

incident = Tracker.find_by(name: 'Incident') || Tracker.new(name: 'Incident')
incident.default_status = new_st
incident.save!

manager = Role.find_by!(name: 'Manager')
statuses = [new_st, ack_st, inprog_st, resolved_st, closed_st]
# workflow: Manager may move an Incident between any two of these statuses
statuses.each do |a|
  statuses.each do |b|
    next if a == b
    WorkflowTransition.find_or_create_by!(role_id: manager.id, tracker_id: incident.id,
                                          old_status_id: a.id, new_status_id: b.id,
                                          author: false, assignee: false)
  end
end
# let the other default trackers use "Acknowledged" too (Manager role)
Tracker.where.not(id: incident.id).each do |t|
  statuses.each do |a|
    statuses.each do |b|
      next if a == b
      WorkflowTransition.find_or_create_by!(role_id: manager.id, tracker_id: t.id,
                                            old_status_id: a.id, new_status_id: b.id,
                                            author: false, assignee: false)
    end
  end
end

cf = IssueCustomField.find_by(name: 'External ID') || IssueCustomField.new(name: 'External ID')
cf.field_format = 'string'
cf.is_for_all = true      # all projects
cf.is_filter = true       # required for GET /issues.json?cf_N=value
cf.searchable = true
cf.visible = true
cf.is_required = false
cf.tracker_ids = Tracker.pluck(:id)
cf.save!

project = Project.find_by(identifier: proj_id) || Project.new(identifier: proj_id)
project.name = 'Monitoring'
project.description = 'Tickets opened by the monitoring-to-ticket daemon'
project.is_public = false
project.tracker_ids = Tracker.pluck(:id)
project.enabled_module_names = %w(issue_tracking time_tracking)
project.save!

unless Member.exists?(project_id: project.id, user_id: bot.id)
  Member.create!(project: project, principal: bot, role_ids: [manager.id])
end

puts JSON.generate(
  project_id: project.id, project_identifier: project.identifier,
  tracker_ids: Tracker.order(:position).pluck(:name, :id).to_h,
  status_ids: IssueStatus.order(:position).pluck(:name, :id).to_h,
  priority_ids: IssuePriority.order(:position).pluck(:name, :id).to_h,
  external_id_cf: cf.id, admin_user_id: admin.id, bot_user_id: bot.id)
